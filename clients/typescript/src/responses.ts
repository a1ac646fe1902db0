// Helpers over openapi-typescript's `paths`: the JSON body of one status of one
// operation, and a fallback for a status the document does not (yet) declare.
import type { components, paths } from "./slotcap-api";

/** The error shape every non-2xx answer of slotcap uses (`error`, `code`, ...). */
export type ApiError = components["schemas"]["Error"];

/** Operation `M` of path `P`. */
export type Operation<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];

/** The JSON body operation `Op` declares for `status`, else `Fallback`. A status the
 * document lacks today (429 before the server declares it) falls back to the generic
 * `ApiError`; once the document declares it, regenerating the types makes this the
 * declared schema, with no change to the code that uses it. */
export type JsonBody<Op, Status extends number, Fallback = ApiError> = Op extends {
  responses: { [S in Status]: { content: { "application/json": infer Body } } };
}
  ? Body
  : Fallback;

/** Whether `Op` declares `status` (for compile-time checks: see example.ts). */
export type Declares<Op, Status extends number> = Op extends {
  responses: { [S in Status]: unknown };
}
  ? true
  : false;
