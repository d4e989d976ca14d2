// A real OpenID provider for KOSH's single sign-on tests: panva's oidc-provider with one
// confidential client and a few users. Started by tests/auth/oidc_fixtures.py:
//
//   PORT=... CLIENT_ID=... CLIENT_SECRET=... REDIRECT_URIS=a,b POST_LOGOUT_URIS=c,d node provider.mjs
//
// Its development login form (devInteractions) takes the account id as the login and any
// password; consent is granted at once (loadExistingGrant), so a login is one form.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const split = (value) => (value || '').split(',').filter(Boolean);

// alice and bob are in different groups; carol's e-mail is not verified.
const ACCOUNTS = {
  alice: { email: 'alice@example.test', email_verified: true, groups: ['kosh-admins'], name: 'Alice Admin' },
  bob: { email: 'bob@example.test', email_verified: true, groups: ['warehouse'], name: 'Bob Picker' },
  carol: { email: 'carol@example.test', email_verified: false, groups: ['warehouse'], name: 'Carol Unverified' },
  dave: { email: 'dave@example.test', email_verified: true, groups: ['visitors'], name: 'Dave Nogroup' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: split(process.env.REDIRECT_URIS),
    post_logout_redirect_uris: split(process.env.POST_LOGOUT_URIS),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...account };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  cookies: { keys: ['kosh-test-provider-cookie-key'] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
