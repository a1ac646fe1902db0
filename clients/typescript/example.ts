// A typed client of slotcap's booking and availability calls, as a Next.js app would
// write it: every answer's body is typed from the generated OpenAPI types
// (src/slotcap-api.d.ts, `scripts/gen-ts-client`), and `tsc --noEmit` proves it
// (tests/e2e/test_ts_client.py; the same test runs it against `slotcap serve`).
import type { components } from "./src/slotcap-api";
import type { ApiError, Declares, JsonBody, Operation } from "./src/responses";

type Book = Operation<"/api/public/reservations", "post">;
type Check = Operation<"/api/public/reservations/availability", "get">;
export type BookingBody = components["schemas"]["BookingBody"];

export type Booked = JsonBody<Book, 200>;
export type Invalid = JsonBody<Book, 400>;
export type Full = JsonBody<Book, 409>;
export type Busy = JsonBody<Book, 503>;
/** 429: the rate limiter's answer (code rate_limited, Retry-After). */
export type RateLimited = JsonBody<Book, 429>;

// The shapes the server documents today: these lines stop compiling if they vanish.
const documented: [Declares<Book, 200>, Declares<Book, 400>, Declares<Book, 409>,
  Declares<Book, 503>] = [true, true, true, true];
void documented;
// The document declares 429 (rate_limited) for bookings: this fails to compile if not.
const declares429: Declares<Book, 429> = true; void declares429;

export type BookingOutcome =
  | { kind: "booked"; reservation: Booked["reservation"]; message: string }
  | { kind: "invalid"; code: string; fields: string[]; error: string }
  | { kind: "full"; code: string; reason: string; unit: "minutes" | "bookings"; remaining: number | null }
  | { kind: "conflict"; status: 409 | 422; code: string }
  | { kind: "retry"; status: 429 | 503; code: string; retryAfterSeconds: number | null };

function retryAfter(response: Response): number | null {
  const value = Number(response.headers.get("Retry-After"));
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/** POST /api/public/reservations; `subject` is the rollout's sticky key. */
export async function book(base: string, body: BookingBody, subject?: string,
  fetchImpl: typeof fetch = fetch): Promise<BookingOutcome> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (subject !== undefined) headers["X-Slotcap-Subject"] = subject;
  const response = await fetchImpl(`${base}/api/public/reservations`, {
    method: "POST", headers, body: JSON.stringify(body),
  });
  switch (response.status) {
    case 200: {
      const ok = (await response.json()) as Booked;
      return { kind: "booked", reservation: ok.reservation, message: ok.message };
    }
    case 400: {
      const bad = (await response.json()) as Invalid;
      return { kind: "invalid", code: bad.code, fields: bad.fields ?? [], error: bad.error };
    }
    case 409: {
      // A full period today; once the document also declares other 409s (a duplicate
      // booking, an Idempotency-Key in flight), `Full` becomes a union and the
      // `"reason" in` test tells them apart.
      const conflict = (await response.json()) as Full;
      if ("reason" in conflict) {
        return { kind: "full", code: conflict.code, reason: conflict.reason,
          unit: conflict.unit, remaining: conflict.remaining };
      }
      return { kind: "conflict", status: 409, code: (conflict as ApiError).code };
    }
    case 422: {
      const mismatch = (await response.json()) as JsonBody<Book, 422>;
      return { kind: "conflict", status: 422, code: mismatch.code };
    }
    case 429: {
      const limited = (await response.json()) as RateLimited;
      return { kind: "retry", status: 429, code: limited.code, retryAfterSeconds: retryAfter(response) };
    }
    case 503: {
      const busy = (await response.json()) as Busy;
      return { kind: "retry", status: 503, code: busy.code, retryAfterSeconds: retryAfter(response) };
    }
    default: {
      const other = (await response.json()) as ApiError;
      throw new Error(`slotcap answered ${response.status}: ${other.code}`);
    }
  }
}

export type Availability = JsonBody<Check, 200>;
export type AvailabilityQuery = NonNullable<Check["parameters"]["query"]>;
export type AvailabilityAnswer =
  | { status: 200; body: Availability }
  | { status: 400; body: JsonBody<Check, 400> }
  | { status: 429 | 503; body: JsonBody<Check, 503>; retryAfterSeconds: number | null };

/** GET /api/public/reservations/availability: both periods (dynamic) or the count. */
export async function availability(base: string, query: AvailabilityQuery,
  fetchImpl: typeof fetch = fetch): Promise<AvailabilityAnswer> {
  const params = new URLSearchParams({ date: query.date });
  if (query.service !== undefined) params.set("service", query.service);
  const response = await fetchImpl(`${base}/api/public/reservations/availability?${params}`);
  const body: unknown = await response.json();
  switch (response.status) {
    case 200: return { status: 200, body: body as Availability };
    case 400: return { status: 400, body: body as JsonBody<Check, 400> };
    case 429:
    case 503:
      return { status: response.status, body: body as JsonBody<Check, 503>,
        retryAfterSeconds: retryAfter(response) };
    default: throw new Error(`slotcap answered ${response.status}: ${(body as ApiError).code}`);
  }
}

/** The periods that still fit the service, for a date picker. */
export function openPeriods(answer: Availability): string[] {
  return (answer.periods ?? []).filter((p) => p.fits === true).map((p) => p.period);
}

// Run against a server: node dist/example.js BASE_URL DATE (prints one JSON line).
if (require.main === module) {
  const [base, day] = process.argv.slice(2);
  if (base === undefined || day === undefined) throw new Error("usage: example.js BASE_URL DATE");
  const body: BookingBody = {
    patient_name: "Typed Client", phone: "010-1234-5678", birth_date: "1990-01-01",
    gender: "FEMALE", treatment_type: "FIRST_VISIT", service: "SKIN_CARE",
    preferred_date: day, preferred_time: "10:00", period: "MORNING",
  };
  (async () => {
    const first = await availability(base, { date: day, service: "SKIN_CARE" });
    const open = first.status === 200 ? openPeriods(first.body) : [];
    const booked = await book(base, body, "typed-client");
    const invalid = await book(base, { ...body, preferred_date: "not-a-date" });
    const outcomes: BookingOutcome[] = [];
    // Other patients (the same one twice on a date is refused as duplicate_booking).
    for (let i = 0; i < 5; i += 1) {
      outcomes.push(await book(base, { ...body, phone: `010-2000-000${i}` }, `typed-${i}`));
    }
    process.stdout.write(`${JSON.stringify({ first, open, booked, invalid, outcomes })}\n`);
  })().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
}
