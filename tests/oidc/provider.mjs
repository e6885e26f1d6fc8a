// A real OpenID Provider for warroom's sign-in tests: panva's oidc-provider with the device
// flow, one public test client and users in two groups (a `groups` claim).
//
//   node provider.mjs <port>        (or OIDC_PORT=<port>; 0 picks a free one)
//
// Listens on 127.0.0.1 and prints one line `ready <issuer>` on stdout when it serves.
// The signing key is generated at start. Test-only endpoints under /test/ (never in a real IdP):
//   POST /test/groups  {"user": "alice", "groups": ["observers"]}  changes a user's groups
//   POST /test/sign    {"claims": {...}, "key": "real" | "wrong", "kid"?: "..."}  signs an ID
//                      token with the provider's key or a second key it never publishes (same
//                      `kid`, unless `kid` names another)
//   POST /test/revoke  {"user": "alice"}                               ends every grant of a user
// Users log in through oidc-provider's own development interactions (a login form taking any
// password, then a consent form): the tests drive those forms over HTTP.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT ?? 0);

const users = {
  alice: { email: 'alice@example.test', groups: ['sre-oncall'] },
  bob: { email: 'bob@example.test', groups: ['observers'] },
  carol: { email: 'carol@example.test', groups: [] },
};

async function newKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

const kid = `k-${Date.now()}`;
const realJwk = await newKey(kid);
const wrongJwk = await newKey(kid);

// Grants ended by /test/revoke: a refresh under them fails.
const revokedUsers = new Set();

const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'warroom',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  }],
  jwks: { keys: [realJwk] },
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // The ID token carries the scopes' claims (warroom reads the user and groups from it).
  conformIdTokenClaims: false,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    // Short-lived on purpose: tests of expiry and refresh do not wait long.
    IdToken: 300,
    AccessToken: 300,
    DeviceCode: 300,
    RefreshToken: 3600,
  },
  async findAccount(_ctx, sub) {
    if (!users[sub]) return undefined;
    return {
      accountId: sub,
      async claims() {
        if (revokedUsers.has(sub)) throw new Error('revoked');
        const u = users[sub];
        return { sub, preferred_username: sub, email: u.email, groups: [...u.groups] };
      },
    };
  },
});

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function test(req, res) {
  const body = await readJson(req);
  if (req.url === '/test/groups') {
    if (!users[body.user]) return reply(res, 404, { error: 'no such user' });
    users[body.user].groups = body.groups;
    return reply(res, 200, { ok: true });
  }
  if (req.url === '/test/revoke') {
    revokedUsers.add(body.user);
    return reply(res, 200, { ok: true });
  }
  if (req.url === '/test/sign') {
    const jwk = body.key === 'wrong' ? wrongJwk : realJwk;
    const key = await jose.importJWK(jwk, 'RS256');
    const jwt = await new jose.SignJWT(body.claims)
      .setProtectedHeader({ alg: 'RS256', kid: body.kid ?? jwk.kid, typ: 'JWT' })
      .sign(key);
    return reply(res, 200, { id_token: jwt });
  }
  return reply(res, 404, { error: 'unknown test endpoint' });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/test/') && req.method === 'POST') {
    test(req, res).catch((e) => reply(res, 400, { error: String(e) }));
    return;
  }
  callback(req, res);
});

process.stdout.write(`ready ${issuer}\n`);
process.on('SIGTERM', () => process.exit(0));
