/** The ftp plugin's options (`config.ftp` of an asset). */
import Type from 'typebox';

/** No CR, LF or NUL: they would end an FTP command early (basic-ftp also refuses them). */
const NO_CONTROL = '^[^\\r\\n\\u0000]*$';

export const ftpConfigSchema = Type.Object(
  {
    check: Type.Enum(['auto', 'login', 'list', 'file'], {
      default: 'auto',
      description:
        'What to check after login: "login" (nothing more), "list" (list the URL\'s directory), "file" (size and modification time of the URL\'s file), "auto" (list when the path is empty or ends with "/", else file, and list when that path is a directory).',
    }),
    user: Type.String({ default: 'anonymous', minLength: 1, maxLength: 256, pattern: NO_CONTROL, description: 'User name; "anonymous" logs in anonymously.' }),
    password: Type.String({
      default: '',
      maxLength: 1024,
      pattern: NO_CONTROL,
      description: 'Password (secret: never logged or returned). Empty for an anonymous login sends "anonymous@".',
    }),
    secure: Type.Boolean({
      default: false,
      description: 'ftp:// only: upgrade the control and data connections with AUTH TLS (explicit FTPS). ftps:// always uses implicit TLS.',
    }),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description: 'Verify the server certificate (chain and host name) for explicit and implicit TLS. false accepts any certificate.',
    }),
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check, and the longest wait for any one reply or transfer.' }),
    connectTimeoutMs: Type.Integer({
      default: 5_000,
      minimum: 100,
      maximum: 300_000,
      description: 'Time to connect and receive the server greeting (with the TLS handshake for ftps://).',
    }),
    maxBytes: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 104_857_600,
      description: 'check "file": download at most this many bytes of the file and report them; 0 downloads nothing.',
    }),
  },
  { additionalProperties: false },
);

export type FtpConfig = Type.Static<typeof ftpConfigSchema>;
