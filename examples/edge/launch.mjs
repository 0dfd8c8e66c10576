// What the three launchers share: their command line and an example `authorize` hook.
//   serve-*.mjs [port] [model.safetensors] [--tokens=tokens.json]
// tokens.json maps tenant ids to secrets, {"alpha": "s3cret", ...}: a tenant's routes then need
// `Authorization: Bearer <its secret>` (none or malformed: 401; wrong, or a tenant not in the
// file: 403), and no other tenant can be created; base predictions stay open. Without
// --tokens the launcher says on stderr that every tenant is open to anyone.
import { createHandler } from './handler.mjs';

// Compares in time that depends only on the lengths, not on where the bytes differ.
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// tokens: { tenantId: secret } -> an authorize(request, tenant) hook for createHandler.
export function bearerTokens(tokens) {
  const encoder = new TextEncoder();
  const secrets = new Map(Object.entries(tokens).map(([id, secret]) => [id, encoder.encode(String(secret))]));
  return (request, tenant) => {
    if (tenant === null) return true;
    const m = /^Bearer ([!-~]+)$/.exec(request.headers.get('authorization') ?? '');
    if (!m) return 401;
    const secret = secrets.get(tenant);
    return secret !== undefined && sameBytes(encoder.encode(m[1]), secret);
  };
}

// args: the launcher's arguments; readFile(path or URL) -> bytes, the runtime's own.
export async function handlerFromArgs(args, readFile) {
  const tokensPath = args.find((a) => a.startsWith('--tokens='))?.slice('--tokens='.length);
  const [port = '0', modelPath] = args.filter((a) => !a.startsWith('--'));
  const modelBytes = await readFile(modelPath ?? new URL('../../models/mnist-base-0to4.safetensors', import.meta.url));
  let authorize;
  if (tokensPath) authorize = bearerTokens(JSON.parse(new TextDecoder().decode(await readFile(tokensPath))));
  else console.error('no --tokens=file: every tenant can be created and trained by anyone');
  return { port: Number(port), handler: await createHandler(modelBytes, { authorize }) };
}
