// Who is calling: the user's access token, verified here. Supabase's `verify_jwt` gate alone is not
// authentication (it also lets API keys through), so the function checks the signature against the
// project's signing keys (SUPABASE_JWKS, no network call), the issuer, the audience and the role, and
// takes the user id only from the verified `sub`.

import * as jose from "npm:jose@6";
import type { Config } from "./config.ts";
import { isUuid } from "./http.ts";

export class Unauthorized extends Error {}

export type Verifier = (req: Request) => Promise<string>;

export function userVerifier(config: Config): Verifier {
  const keySet = config.jwks
    ? jose.createLocalJWKSet(config.jwks as jose.JSONWebKeySet)
    : jose.createRemoteJWKSet(new URL(`${config.supabaseUrl}/auth/v1/.well-known/jwks.json`));
  return async (req: Request): Promise<string> => {
    const match = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i);
    if (!match) throw new Unauthorized("missing bearer token (the user's access token)");
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(match[1], keySet, {
        issuer: config.jwtIssuer,
        audience: "authenticated",
        algorithms: ["ES256", "RS256", "EdDSA"],
      }));
    } catch (e) {
      throw new Unauthorized(`invalid access token (${(e as Error).name})`);
    }
    if (payload.role !== "authenticated" || !isUuid(payload.sub)) {
      throw new Unauthorized("the token is not a signed-in user's");
    }
    return payload.sub.toLowerCase();
  };
}
