-- CreateTable
CREATE TABLE "device_code_polls" (
    "model" TEXT NOT NULL DEFAULT 'DeviceCode',
    "id" TEXT NOT NULL,
    "last_polled_at" TIMESTAMPTZ(3) NOT NULL,
    "interval_seconds" INTEGER NOT NULL,
    "last_poll_too_early" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "device_code_polls_pkey" PRIMARY KEY ("model","id")
);

-- CreateTable
CREATE TABLE "user_code_failures" (
    "id" BIGSERIAL NOT NULL,
    "subject" TEXT NOT NULL,
    "failed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_code_failures_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "user_code_failures_subject_failed_at_idx" ON "user_code_failures"("subject", "failed_at");

-- CreateIndex
CREATE INDEX "user_code_failures_failed_at_idx" ON "user_code_failures"("failed_at");

-- AddForeignKey
ALTER TABLE "device_code_polls" ADD CONSTRAINT "device_code_polls_model_id_fkey" FOREIGN KEY ("model", "id") REFERENCES "oidc_payloads"("model", "id") ON DELETE CASCADE ON UPDATE CASCADE;
