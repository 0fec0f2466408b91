-- CreateTable
CREATE TABLE "refresh_token_successors" (
    "model" TEXT NOT NULL DEFAULT 'RefreshToken',
    "id" TEXT NOT NULL,
    "successor_id" TEXT NOT NULL,
    "sealed_successor" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "refresh_token_successors_pkey" PRIMARY KEY ("model","id")
);

-- CreateIndex
CREATE UNIQUE INDEX "refresh_token_successors_successor_id_key" ON "refresh_token_successors"("successor_id");

-- CreateIndex
CREATE INDEX "refresh_token_successors_expires_at_idx" ON "refresh_token_successors"("expires_at");

-- AddForeignKey
ALTER TABLE "refresh_token_successors" ADD CONSTRAINT "refresh_token_successors_model_id_fkey" FOREIGN KEY ("model", "id") REFERENCES "oidc_payloads"("model", "id") ON DELETE CASCADE ON UPDATE CASCADE;
