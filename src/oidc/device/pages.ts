/**
 * What the device flow needs from its verification pages (RFC 8628 §3.3).
 * The pages themselves live with the other pages (src/interactions/
 * device-pages.ts); the composition root builds them and hands them in, so
 * the protocol layer does not depend on the page layer.
 */

/** Why the code entry page is shown again. */
export type CodeEntryProblem = 'missing' | 'not_found' | 'expired' | 'already_used' | 'form_expired' | 'locked_out' | 'server_error';

export interface RenderedPage {
  readonly status: number;
  readonly html: string;
}

export interface CodeEntryInput {
  /** Where the form posts (oidc-provider's code verification endpoint). */
  readonly action: string;
  /** oidc-provider's xsrf secret for this browser session; without it the page shows no form. */
  readonly xsrf?: string | undefined;
  readonly userCode?: string | undefined;
  readonly problem?: CodeEntryProblem | undefined;
  /** A message for a failure that has no problem of its own (shown with status 400). */
  readonly description?: string | undefined;
}

export interface ConfirmInput {
  readonly action: string;
  readonly xsrf: string;
  /** As shown on the device, e.g. WDJB-MJHT. */
  readonly userCode: string;
  readonly clientName: string;
  /** The scope the device asked for (space-separated). */
  readonly scope: string | undefined;
  /** The APIs (RFC 8707 resource) the device asked for. */
  readonly resource: string | string[] | undefined;
}

export interface DevicePages {
  codeEntry(input: CodeEntryInput): RenderedPage;
  /** RFC 8628 §5.4: the user confirms the code matches the device, even when it came prefilled. */
  confirm(input: ConfirmInput): Promise<RenderedPage>;
  approved(clientName: string): RenderedPage;
  denied(clientName: string | undefined): RenderedPage;
}
