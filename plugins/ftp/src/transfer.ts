/**
 * Data connections through the egress guard: every passive data address (EPSV, PASV) is judged
 * before its socket connects.
 */
import type { Client, FTPContext, FTPResponse } from 'basic-ftp';
import { ipIsPrivateV4Address } from 'basic-ftp/dist/netUtils.js';
import { connectForPassiveTransfer, parseEpsvResponse, parsePasvResponse } from 'basic-ftp/dist/transfer.js';
import { EgressDeniedError, egressDenial, type EgressGuard } from '@webmon/plugin-sdk';

/**
 * The passive-mode transfer strategy: EPSV, else PASV, as basic-ftp's own (the first one that
 * works is kept), with the data address judged by the guard before its socket connects. PASV
 * follows basic-ftp's enterPassiveModeIPv4: a private address in the reply while the control
 * connection's is public is a NAT mistake, replaced by the control address; for a client, any
 * other host than the control connection's is refused (as basic-ftp's default does). A refused address
 * ends the transfer at once (no other strategy is tried).
 */
export function guardedPassiveTransfer(client: Client, egress: EgressGuard): (ftp: FTPContext) => Promise<FTPResponse> {
  const epsv = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await ftp.request('EPSV');
    const port = parseEpsvResponse(res.message);
    const control = ftp.socket.remoteAddress;
    if (!control) throw new Error("Control socket is disconnected, can't get remote address.");
    await connectJudged(ftp, egress, control, port);
    return res;
  };
  const pasv = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await ftp.request('PASV');
    const target = parsePasvResponse(res.message);
    const control = ftp.socket.remoteAddress;
    if (ipIsPrivateV4Address(target.host) && control && !ipIsPrivateV4Address(control)) target.host = control;
    // A client's server may not send webmon's data connection to a third host (FTP bounce).
    if (!egress.trusted && control && target.host !== control.replace(/^::ffff:/, '')) {
      throw new EgressDeniedError(`data connection to ${target.host}:${target.port} refused: not the server's own address ${control}`);
    }
    await connectJudged(ftp, egress, target.host, target.port);
    return res;
  };
  return async (ftp) => {
    let last: unknown;
    for (const strategy of [epsv, pasv]) {
      try {
        const res = await strategy(ftp);
        client.prepareTransfer = strategy;
        return res;
      } catch (err) {
        if (egressDenial(err)) throw err;
        last = err;
      }
    }
    throw new Error(`None of the available transfer strategies work. Last error response was '${String(last)}'.`);
  };
}

async function connectJudged(ftp: FTPContext, egress: EgressGuard, host: string, port: number): Promise<void> {
  const refused = egress.judgeAddress(host);
  if (refused) throw new EgressDeniedError(`data connection to ${host}:${port} refused: ${refused}`);
  await connectForPassiveTransfer(host, port, ftp);
}
