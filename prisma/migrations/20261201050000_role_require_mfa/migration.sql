-- Per-role MFA policy (issue 14): a user holding any role with require_mfa must use a second factor at sign-in.
ALTER TABLE "roles" ADD COLUMN "require_mfa" BOOLEAN NOT NULL DEFAULT false;
