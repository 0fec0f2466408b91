// A module of its own, importing nothing at run time: the users module reads
// it too (src/accounts/users.ts), so a sign-in and this module's own check
// say "has a second factor" by one rule.

/**
 * SQL: whether the user `userIdSql` names (a column or parameter, as uuid)
 * has a confirmed second factor: a TOTP factor whose first code was given,
 * or a passkey (confirmed when registered). An enrolment still waiting for
 * its first code does not count.
 */
export const hasConfirmedFactorSql = (userIdSql: string) =>
  `EXISTS(SELECT 1 FROM mfa_factors f WHERE f.user_id = ${userIdSql} AND f.confirmed_at IS NOT NULL)`;
