/**
 * Our app's API, as the block uses it (CONTRACT.md: `CustomerWhatsApp`, fix-phone).
 *
 * Relative URLs resolve against the app's `application_url`, and for the app's own domain
 * Shopify adds `Authorization: Bearer <ID token>` to the request itself, so nothing here
 * handles tokens. The API answers CORS for the extension's origin.
 */

/** A stop given inside WhatsApp that Shopify does not have yet; `refused` is Shopify's words. */
export interface WriteBack {
  stopped_at: string;
  refused: string | null;
  retry_at: string | null;
}

export interface Consent {
  state: string;
  updated_at: string | null;
  source: string | null;
  write_back: WriteBack | null;
}

export interface Problem {
  code: string;
  category: string;
  title: string;
  remedy: string;
}

export interface Customer {
  shopify_id: number;
  name: string;
  phone: string | null;
  phone_e164: string | null;
  country_code: string | null;
  phone_problem: Problem | null;
  consent: Consent;
}

/** Something the merchant should know after a fix, such as consent Shopify dropped with the old number. */
export interface FixWarning {
  code: string;
  channel: string;
  before: string | null;
  after: string | null;
  message: string;
}

export interface Fix {
  admin_url: string;
  suggested_phone: string | null;
  fixed: boolean;
}

export interface Message {
  id: number;
  wamid: string | null;
  status: string;
  error: (Problem & {details: string | null}) | null;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
  expired_at: string | null;
  fix: Fix | null;
  campaign: {id: number; name: string};
}

export interface CustomerWhatsApp {
  customer: Customer;
  fix: Fix | null;
  messages: Message[];
}

/** An answer other than success: the HTTP status (0 when nothing answered) and the reasons given. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reasons: string[] = [],
  ) {
    super(reasons.join('; ') || `HTTP ${status}`);
  }
}

/** The numeric id our API takes, from the GID the admin gives (gid://shopify/Customer/42). */
export function customerIdFromGid(gid: string | undefined): string | null {
  const match = /^gid:\/\/shopify\/Customer\/(\d+)$/.exec(gid ?? '');
  return match ? match[1]! : null;
}

const customerPath = (customerId: string) => `/api/customers/${encodeURIComponent(customerId)}`;

async function send(path: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0);
  }
}

async function failure(response: Response): Promise<ApiError> {
  const body = await response.json().catch(() => null);
  const reasons: string[] = body?.errors?.map((e: {message: string}) => e.message) ?? [];
  if (!reasons.length && typeof body?.message === 'string') reasons.push(body.message);
  return new ApiError(response.status, reasons);
}

/** The customer's WhatsApp state, or null when the app does not know this customer (yet). */
export async function loadCustomer(customerId: string): Promise<CustomerWhatsApp | null> {
  const response = await send(`${customerPath(customerId)}/whatsapp`);
  if (response.status === 404) return null;
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Write the number the merchant approved to Shopify; answers the customer as now held, and
 * what the change cost them (`warnings`). */
export async function applyPhone(
  customerId: string,
  phone: string,
): Promise<Customer & {warnings: FixWarning[]}> {
  const response = await send(`${customerPath(customerId)}/fix-phone`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({phone}),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}
