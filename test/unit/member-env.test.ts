// The environment launchers give a member process (kvstore/defaults.ts).

import { memberProcessEnv } from '../../kvstore/defaults';

describe('memberProcessEnv', () => {
  const base = { PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', TSRAFT_X: 'kept' };

  test('leaves out the certificate bundle a member never uses and keeps everything else', () => {
    const env = memberProcessEnv(base, false);
    expect(env).toEqual({ PATH: '/usr/bin', TSRAFT_X: 'kept' });
    expect(base.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt');
  });

  test('turns colour off for a log written to a file, and adds what the launcher asks for', () => {
    expect(memberProcessEnv(base, true, { TSRAFT_FAULTFS: 'root=/d' })).toEqual({ PATH: '/usr/bin', TSRAFT_X: 'kept', NO_COLOR: '1', TSRAFT_FAULTFS: 'root=/d' });
  });

  test('an extra variable cannot bring the bundle back', () => {
    expect(memberProcessEnv({}, false, { NODE_EXTRA_CA_CERTS: '/x' }).NODE_EXTRA_CA_CERTS).toBeUndefined();
  });
});
