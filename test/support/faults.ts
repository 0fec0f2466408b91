import type { PrismaClient } from '../../src/db/prisma.js';

/**
 * Runs `action` while the database ends (pg_terminate_backend) any connection
 * that inserts an audit event of `eventType`: a real connection lost between a
 * change and its event, not a mock. The trigger is gone afterwards.
 */
export async function withConnectionLostOnEvent<T>(prisma: PrismaClient, eventType: string, action: () => Promise<T>): Promise<T> {
  if (!/^[a-z_.]+$/.test(eventType)) throw new Error(`not an event type: ${eventType}`);
  await prisma.$executeRawUnsafe(`
    CREATE FUNCTION drop_connection_on_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = '${eventType}' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
      RETURN NEW;
    END $$`);
  await prisma.$executeRawUnsafe(
    'CREATE TRIGGER drop_connection_on_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION drop_connection_on_event()',
  );
  try {
    return await action();
  } finally {
    await prisma.$executeRawUnsafe('DROP TRIGGER drop_connection_on_event ON events');
    await prisma.$executeRawUnsafe('DROP FUNCTION drop_connection_on_event()');
  }
}
