-- RBAC: roles with API permissions, users <-> roles, per-API rbac settings,
-- and client grants (`api_access`) in place of API scopes in `scope`.

-- CreateTable
CREATE TABLE "roles" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "roles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "role_permissions" (
    "role_id" UUID NOT NULL,
    "resource_id" UUID NOT NULL,
    "scope" TEXT NOT NULL,

    CONSTRAINT "role_permissions_pkey" PRIMARY KEY ("role_id","resource_id","scope")
);

-- CreateTable
CREATE TABLE "user_roles" (
    "user_id" UUID NOT NULL,
    "role_id" UUID NOT NULL,

    CONSTRAINT "user_roles_pkey" PRIMARY KEY ("user_id","role_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "roles_name_key" ON "roles"("name");

-- CreateIndex
CREATE INDEX "role_permissions_resource_id_idx" ON "role_permissions"("resource_id");

-- CreateIndex
CREATE INDEX "user_roles_role_id_idx" ON "user_roles"("role_id");

-- AddForeignKey
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AlterTable: per-API RBAC settings, off by default (today's behaviour).
ALTER TABLE "resources" ADD COLUMN "rbac" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "permissions_claim" BOOLEAN NOT NULL DEFAULT false;

-- The built-in admin role; its permissions (the admin API's scopes) are set at
-- start, when the admin API's identifier (the issuer) is known.
INSERT INTO "roles" ("id", "name", "description", "built_in", "updated_at")
VALUES (gen_random_uuid(), 'admin', 'Manage everything in Gatehouse', true, CURRENT_TIMESTAMP);

-- Every free-text role a user had becomes a role of that name (no permissions yet).
INSERT INTO "roles" ("id", "name", "updated_at")
SELECT gen_random_uuid(), "name", CURRENT_TIMESTAMP
  FROM (SELECT DISTINCT unnest("roles") AS "name" FROM "users") AS "names"
 WHERE "name" <> 'admin';

INSERT INTO "user_roles" ("user_id", "role_id")
SELECT DISTINCT "u"."id", "r"."id"
  FROM "users" AS "u"
 CROSS JOIN LATERAL unnest("u"."roles") AS "n"("name")
  JOIN "roles" AS "r" ON "r"."name" = "n"."name";

ALTER TABLE "users" DROP COLUMN "roles";

-- Clients: every API scope in `scope` becomes a grant on each API that defines
-- it (`api_access`); `scope` keeps only the OpenID scopes (`openid` when it had
-- none, so the client no longer receives profile, email or roles claims).
WITH "client_scopes" AS (
    SELECT "c"."id", "s"."scope"
      FROM "clients" AS "c"
     CROSS JOIN LATERAL unnest(string_to_array("c"."metadata"->>'scope', ' ')) AS "s"("scope")
     WHERE jsonb_typeof("c"."metadata"->'scope') = 'string'
),
"api_scopes" AS (
    SELECT DISTINCT "cs"."id", "r"."identifier", "cs"."scope"
      FROM "client_scopes" AS "cs"
      JOIN "resources" AS "r"
        ON EXISTS (SELECT 1 FROM jsonb_array_elements("r"."scopes") AS "e" WHERE "e"->>'name' = "cs"."scope")
     WHERE "cs"."scope" NOT IN ('openid', 'profile', 'email', 'roles', 'offline_access')
),
"grants" AS (
    SELECT "id", jsonb_agg(jsonb_build_object('resource', "identifier", 'scopes', "scopes") ORDER BY "identifier") AS "api_access"
      FROM (SELECT "id", "identifier", jsonb_agg("scope" ORDER BY "scope") AS "scopes" FROM "api_scopes" GROUP BY "id", "identifier") AS "per_api"
     GROUP BY "id"
),
"oidc" AS (
    SELECT "id", string_agg("scope", ' ' ORDER BY array_position(ARRAY['openid', 'profile', 'email', 'roles', 'offline_access'], "scope")) AS "scope"
      FROM (SELECT DISTINCT "id", "scope" FROM "client_scopes" WHERE "scope" IN ('openid', 'profile', 'email', 'roles', 'offline_access')) AS "kept"
     GROUP BY "id"
)
UPDATE "clients" AS "c"
   SET "metadata" = "c"."metadata"
                    || jsonb_build_object('scope', COALESCE("o"."scope", 'openid'))
                    || jsonb_build_object('api_access', COALESCE("g"."api_access", '[]'::jsonb)),
       "updated_at" = CURRENT_TIMESTAMP
  FROM "clients" AS "c2"
  LEFT JOIN "grants" AS "g" ON "g"."id" = "c2"."id"
  LEFT JOIN "oidc" AS "o" ON "o"."id" = "c2"."id"
 WHERE "c"."id" = "c2"."id"
   AND jsonb_typeof("c"."metadata"->'scope') = 'string';
