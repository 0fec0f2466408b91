import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/accounts/passwords.js';
import { createUserService, type UserService } from '../../src/accounts/users.js';
import { createMigratedDatabase } from '../support/services.js';

const OWASP = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('users', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let users: UserService;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    users = createUserService(database.prisma, createPasswordHasher(OWASP));
  });
  afterAll(() => database?.drop());

  it('stores an argon2id hash with the configured cost, never the password', async () => {
    const user = await users.createUser({ email: 'Ada@Example.com', password: 'correct horse battery', name: 'Ada', roles: ['admin'] });
    expect(user).toMatchObject({ email: 'ada@example.com', name: 'Ada', roles: ['admin'], emailVerified: false, disabled: false });
    expect(user).not.toHaveProperty('passwordHash');
    const row = await database.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(JSON.stringify(await database.prisma.$queryRawUnsafe('SELECT * FROM users'))).not.toContain('correct horse battery');
  });

  it('refuses a second user with the same email in another letter case', async () => {
    await expect(users.createUser({ email: 'ADA@example.COM', password: 'another password!' })).rejects.toMatchObject({
      status: 409,
      code: 'email_taken',
    });
  });

  it('refuses short passwords and the email as password', async () => {
    await expect(users.createUser({ email: 'b@example.com', password: 'short' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_password',
    });
    await expect(users.createUser({ email: 'longer-address@example.com', password: 'LONGER-ADDRESS@example.com' })).rejects.toMatchObject({
      code: 'invalid_password',
    });
    await expect(users.createUser({ email: 'not an email', password: 'long enough password' })).rejects.toMatchObject({
      code: 'invalid_email',
    });
  });

  it('takes the minimum password length from configuration', async () => {
    const strict = createUserService(database.prisma, createPasswordHasher(OWASP), { minPasswordLength: 20 });
    await expect(strict.createUser({ email: 'strict@example.com', password: 'only sixteen chr' })).rejects.toMatchObject({
      code: 'invalid_password',
      description: expect.stringContaining('20'),
    });
    expect(await strict.createUser({ email: 'strict@example.com', password: 'twenty characters ok' })).toMatchObject({
      email: 'strict@example.com',
    });
  });

  it('authenticates with the right password in any email case', async () => {
    expect(await users.authenticate('ADA@example.com', 'correct horse battery')).toMatchObject({ email: 'ada@example.com' });
    expect(await users.authenticate('ada@example.com', 'correct horse battery')).not.toHaveProperty('passwordHash');
  });

  it('returns null alike for a wrong password, an unknown email and a disabled user', async () => {
    const disabled = await users.createUser({ email: 'off@example.com', password: 'correct horse battery', disabled: true });
    expect(disabled.disabled).toBe(true);
    expect(await users.authenticate('ada@example.com', 'wrong password')).toBeNull();
    expect(await users.authenticate('nobody@example.com', 'correct horse battery')).toBeNull();
    expect(await users.authenticate('off@example.com', 'correct horse battery')).toBeNull();
  });

  it('ensures the configured admin: creates it, then resets its password and keeps its roles', async () => {
    const created = await users.ensureAdminUser('Root@Example.com', 'first admin password');
    expect(created).toMatchObject({ email: 'root@example.com', roles: ['admin'], emailVerified: true });
    await users.ensureAdminUser('root@example.com', 'second admin password');
    expect(await database.prisma.user.count({ where: { email: 'root@example.com' } })).toBe(1);
    expect(await users.authenticate('root@example.com', 'first admin password')).toBeNull();
    expect(await users.authenticate('root@example.com', 'second admin password')).toMatchObject({ id: created.id, roles: ['admin'] });
  });

  it('finds users by id and ignores ids that are not UUIDs', async () => {
    const user = await users.createUser({ email: 'find@example.com', password: 'long enough password' });
    expect(await users.findUserById(user.id)).toMatchObject({ email: 'find@example.com' });
    expect(await users.findUserById('not-a-uuid')).toBeNull();
  });
});
