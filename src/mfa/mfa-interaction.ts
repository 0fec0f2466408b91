import type { KeyObject } from 'node:crypto';
import type { Context } from 'koa';
import type { User, UserService } from '../accounts/users.js';
import type { AuditContext } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import type { PageRenderer } from '../http/pages.js';
import { csrfToken } from '../interactions/csrf.js';
import { completeLogin, type PendingInteraction, type ProviderRef } from '../oidc/interaction-steps.js';
import { asksForMfa, authenticationMethods, secondFactorStep, type MfaPolicy } from './mfa-policy.js';
import type { MfaService } from './mfa-service.js';
import type { MfaStore } from './mfa-store.js';
import { passkeyMethods, type Passkeys } from './passkeys.js';

export interface SecondFactorDependencies {
  readonly provider: ProviderRef;
  readonly users: UserService;
  readonly mfa: MfaService;
  readonly store: MfaStore;
  readonly policy: MfaPolicy;
  readonly pages: PageRenderer;
  readonly csrfKey: KeyObject;
  /** Seconds an interaction lives: a half-finished sign-in lives as long. */
  readonly interactionTtl: number;
  /** The issuer's name shown in authenticator apps. */
  readonly issuerName: string;
  readonly passkeys: Passkeys;
  /** Whether a role the user holds requires a second factor (`require_mfa`). */
  readonly roleRequiresMfa: (userId: string) => Promise<boolean>;
}

/** The login flow's hooks for a second factor (src/interactions/routes.ts calls them). */
export interface SecondFactorHooks {
  /** After a right password: where the browser goes next for a second factor, or the finished login's redirect. */
  afterPassword(ctx: Context, interaction: PendingInteraction, user: User): Promise<string>;
  /** Renders the second-factor page when this interaction waits for one (or asks a step-up); false otherwise. */
  page(ctx: Context, interaction: PendingInteraction): Promise<boolean>;
  /** What the login page adds: "Sign in with a passkey" (passwordless). */
  loginView(interaction: PendingInteraction): Promise<Record<string, unknown>>;
  /** POST /interaction/:uid/<path> handlers, called after the CSRF check. */
  readonly actions: Record<string, (ctx: Context, interaction: PendingInteraction) => Promise<void>>;
}

// The check oidc-provider's login prompt reports for a step-up (src/oidc/mfa-prompt.ts).
const STEP_UP_REASONS = ['mfa_required', 'max_age'];
const SECOND_FACTOR_DONE = 'otp';

const WRONG_CODE = 'That code is not right. Try again.';
const notWaiting = () => new AppError(400, 'invalid_request', 'This sign-in is not waiting for a code; please start again.');

/**
 * After the password, a second factor: the code page for users with one, and
 * enrolment for users the policy, the client, one of their roles or the
 * request (acr_values) requires one of. The state between the steps is a pending login row keyed
 * by the interaction, so only this browser's interaction can finish it.
 */
export function secondFactorHooks(deps: SecondFactorDependencies): SecondFactorHooks {
  const audit = (ctx: Context, userId: string): AuditContext => ({
    actor: `user:${userId}`,
    requestId: String(ctx.state.requestId ?? ''),
    clientIp: ctx.ip,
  });
  const label = (user: User) => user.email;

  const stepFor = async (interaction: PendingInteraction, user: User) =>
    secondFactorStep(deps.policy, {
      // Both read with the user where it was looked up one at a time (sign-in).
      hasFactor: user.hasSecondFactor ?? (await deps.mfa.hasFactor(user.id)),
      roleRequiresMfa: user.rolesRequireMfa ?? (await deps.roleRequiresMfa(user.id)),
      clientRequiresMfa: interaction.clientRequiresMfa,
      acrRequested: asksForMfa(interaction.acrValues),
      roles: user.roles,
    });

  const finish = async (ctx: Context, userId: string, amr: string[]) => {
    await deps.store.endPendingLogin(ctx.params.uid as string);
    return completeLogin(deps.provider, ctx.req, ctx.res, userId, authenticationMethods(amr));
  };

  const render = async (ctx: Context, interaction: PendingInteraction, view: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.pages.render('mfa', {
      title: 'Two-step verification',
      heading: 'Two-step verification',
      uid: interaction.uid,
      client: interaction.clientName,
      csrf: csrfToken(deps.csrfKey, interaction.uid),
      ...view,
    });
  };

  /** The pending sign-in of this interaction, with its user (still enabled). */
  const pendingOf = async (interaction: PendingInteraction) => {
    const pending = await deps.store.pendingLogin(interaction.uid);
    const user = pending ? await deps.users.findUserById(pending.userId) : null;
    return pending && user && !user.disabled ? { pending, user } : undefined;
  };

  const renderStep = async (ctx: Context, interaction: PendingInteraction, user: User, error?: string) => {
    const step = await stepFor(interaction, user);
    if (step === 'enrol') {
      const enrolment = (await deps.mfa.pendingTotp(user.id, label(user))) ?? (await deps.mfa.startTotp(user.id, label(user)));
      return render(ctx, interaction, {
        heading: 'Set up two-step verification',
        enrol: true,
        qrDataUrl: enrolment.qrDataUrl,
        secret: enrolment.secret,
        error,
      });
    }
    return render(ctx, interaction, { verify: true, error, ...(await passkeyView(interaction, user)) });
  };

  /** The user's passkeys as a second factor, when they have any. */
  const passkeyView = async (interaction: PendingInteraction, user: User) => {
    const factors = await deps.mfa.listFactors(user.id);
    const hasTotp = factors.some((factor) => factor.type === 'totp');
    if (!factors.some((factor) => factor.type === 'passkey')) return { hasTotp };
    return { hasTotp, passkey: { options: JSON.stringify(await deps.passkeys.authenticationOptions(interaction.uid, user.id)) } };
  };

  return {
    // The page stays the same for every visitor (its challenge is fetched by
    // the script), so a wrong password and an unknown email still read alike.
    async loginView() {
      return { passwordless: true };
    },

    async afterPassword(ctx, interaction, user) {
      const step = await stepFor(interaction, user);
      if (step === 'none') return finish(ctx, user.id, ['pwd']);
      await deps.store.startPendingLogin(interaction.uid, { userId: user.id, amr: ['pwd'] }, deps.interactionTtl);
      return `/interaction/${interaction.uid}`;
    },

    async page(ctx, interaction) {
      if (interaction.prompt !== 'login') return false;
      const found = await pendingOf(interaction);
      if (found) {
        if (found.pending.amr.includes(SECOND_FACTOR_DONE)) {
          await render(ctx, interaction, { continue: true });
          return true;
        }
        await renderStep(ctx, interaction, found.user);
        return true;
      }
      // Step-up inside a signed-in session (acr_values, require_mfa, max_age):
      // the second factor alone, for an account that has one or must enrol.
      if (!interaction.accountId || !interaction.reasons.some((reason) => STEP_UP_REASONS.includes(reason))) return false;
      const user = await deps.users.findUserById(interaction.accountId);
      if (!user || user.disabled) return false;
      const step = await stepFor(interaction, user);
      if (step === 'none' || (step === 'enrol' && !interaction.reasons.includes('mfa_required'))) return false;
      const amr = interaction.sessionAmr.length ? interaction.sessionAmr : ['pwd'];
      await deps.store.startPendingLogin(interaction.uid, { userId: user.id, amr }, deps.interactionTtl);
      await renderStep(ctx, interaction, user);
      return true;
    },

    actions: {
      mfa: async (ctx, interaction) => {
        const found = await pendingOf(interaction);
        if (!found) throw notWaiting();
        const { pending, user } = found;
        const code =
          typeof (ctx.request.body as Record<string, unknown>).code === 'string'
            ? String((ctx.request.body as Record<string, unknown>).code)
            : '';
        const outcome = await deps.mfa.verifySecondFactor(user, code, ctx.ip, audit(ctx, user.id));
        if (!outcome.ok) {
          ctx.status = outcome.reason === 'throttled' ? 429 : 401;
          if (outcome.reason === 'throttled') ctx.set('Retry-After', String(outcome.retryAfterSeconds));
          const error =
            outcome.reason === 'throttled'
              ? `Too many attempts, try again in ${Math.max(1, Math.ceil(outcome.retryAfterSeconds / 60))} minute(s).`
              : WRONG_CODE;
          return render(ctx, interaction, { verify: true, error, ...(await passkeyView(interaction, user)) });
        }
        const amr = [...pending.amr, 'otp'];
        if (outcome.method === 'recovery_code') {
          // The user reads how many codes are left before going on.
          await deps.store.startPendingLogin(interaction.uid, { userId: user.id, amr }, deps.interactionTtl);
          const left = outcome.recoveryCodesLeft ?? 0;
          return render(ctx, interaction, { recovered: { left, one: left === 1, low: left <= 3 }, continue: true });
        }
        return redirect(ctx, await finish(ctx, user.id, amr));
      },

      'mfa/enrol': async (ctx, interaction) => {
        const found = await pendingOf(interaction);
        if (!found) throw notWaiting();
        const { pending, user } = found;
        const code = (ctx.request.body as Record<string, unknown>).code;
        let recoveryCodes: string[];
        try {
          recoveryCodes = await deps.mfa.confirmTotp(user.id, typeof code === 'string' ? code : '', audit(ctx, user.id));
        } catch (error) {
          if (!(error instanceof AppError && error.code === 'invalid_code')) throw error;
          ctx.status = 400;
          return renderStep(ctx, interaction, user, WRONG_CODE);
        }
        await deps.store.startPendingLogin(interaction.uid, { userId: user.id, amr: [...pending.amr, 'otp'] }, deps.interactionTtl);
        return render(ctx, interaction, { heading: 'Save your recovery codes', recoveryCodes, continue: true });
      },

      // A passkey after the password.
      'mfa/passkey': async (ctx, interaction) => {
        const found = await pendingOf(interaction);
        if (!found) throw notWaiting();
        const { pending, user } = found;
        const assertion = await deps.passkeys.authenticate(
          interaction.uid,
          String((ctx.request.body as Record<string, unknown>).response ?? ''),
          { userId: user.id, context: audit(ctx, user.id) },
        );
        if (!assertion) {
          ctx.status = 401;
          return render(ctx, interaction, {
            verify: true,
            error: 'That passkey was not accepted. Try again.',
            ...(await passkeyView(interaction, user)),
          });
        }
        return redirect(ctx, await finish(ctx, user.id, [...pending.amr, ...passkeyMethods(assertion)]));
      },

      // The passwordless challenge, for the login page's script (JSON).
      'passkey/options': async (ctx, interaction) => {
        ctx.set('Cache-Control', 'no-store');
        ctx.body = await deps.passkeys.authenticationOptions(interaction.uid);
      },

      // "Sign in with a passkey": no password; the passkey must verify the user (PIN, biometrics).
      passkey: async (ctx, interaction) => {
        const context: AuditContext = { actor: 'anonymous', requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
        const assertion = await deps.passkeys.authenticate(
          interaction.uid,
          String((ctx.request.body as Record<string, unknown>).response ?? ''),
          { context },
        );
        const user = assertion ? await deps.users.findUserById(assertion.userId) : null;
        if (!assertion || !user || user.disabled)
          throw new AppError(
            401,
            'invalid_passkey',
            'That passkey was not accepted. Go back and try again, or sign in with your password.',
          );
        return redirect(ctx, await finish(ctx, user.id, passkeyMethods(assertion)));
      },

      'mfa/continue': async (ctx, interaction) => {
        const found = await pendingOf(interaction);
        if (!found?.pending.amr.includes(SECOND_FACTOR_DONE)) {
          throw notWaiting();
        }
        return redirect(ctx, await finish(ctx, found.user.id, found.pending.amr));
      },
    },
  };
}

function redirect(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
