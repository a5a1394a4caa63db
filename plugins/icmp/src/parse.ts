/**
 * Reading what iputils `ping -n` printed (in the C locale). The summary lines are the source of
 * truth; reply and error lines add the per-packet round-trip times and what the network said.
 * Never throws: lines it does not know are ignored.
 */

export interface Rtt {
  min: number;
  avg: number;
  max: number;
  mdev: number;
}

export interface PingReport {
  /** From the statistics line; null when ping printed none (it failed before sending). */
  transmitted: number | null;
  received: number;
  duplicates: number;
  /** ICMP errors received instead of replies (unreachable, time exceeded, …). */
  errors: number;
  /** From the `rtt min/avg/max/mdev` line, else computed from the reply lines; null without replies. */
  rtt: Rtt | null;
  /** Round-trip times of the reply lines, ms, in order (at most MAX_LINES). */
  times: number[];
  /** Distinct error texts: ICMP errors (`Destination Host Unreachable`) and ping's own (`connect: Network is unreachable`). */
  problems: string[];
}

const MAX_LINES = 500;
const MAX_PROBLEMS = 5;
const MAX_PROBLEM_LENGTH = 200;

const SUMMARY = /^(\d+) packets transmitted, (\d+) received(.*)$/;
const RTT = /^rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/;
const REPLY = /^\d+ bytes from \S+: icmp_seq=\d+ .*\btime[=<]([\d.]+) ms/;
const ICMP_ERROR = /^From \S+(?: \([^)]*\))? icmp_seq=\d+ (.+)$/;
const PING_ERROR = /^ping: (.+)$/;

function count(tail: string, what: string): number {
  const m = new RegExp(`\\+(\\d+) ${what}`).exec(tail);
  return m ? Number(m[1]) : 0;
}

function addProblem(problems: string[], text: string): void {
  const t = text.trim().slice(0, MAX_PROBLEM_LENGTH);
  if (t && problems.length < MAX_PROBLEMS && !problems.includes(t)) problems.push(t);
}

/** Population standard deviation, as ping's mdev. */
function rttOf(times: readonly number[]): Rtt | null {
  if (times.length === 0) return null;
  const avg = times.reduce((a, b) => a + b, 0) / times.length;
  const mdev = Math.sqrt(times.reduce((a, t) => a + (t - avg) ** 2, 0) / times.length);
  return { min: Math.min(...times), avg, max: Math.max(...times), mdev };
}

/** Adds what one line of ping's output says to the report. */
function parseLine(line: string, report: PingReport): void {
  const reply = REPLY.exec(line);
  if (reply) {
    if (!/\(DUP!\)/.test(line)) report.times.push(Number(reply[1]));
    return;
  }
  const summary = SUMMARY.exec(line);
  if (summary) {
    report.transmitted = Number(summary[1]);
    report.received = Number(summary[2]);
    report.duplicates = count(summary[3]!, 'duplicates');
    report.errors = count(summary[3]!, 'errors');
    return;
  }
  const rtt = RTT.exec(line);
  if (rtt) {
    const [min, avg, max, mdev] = rtt.slice(1, 5).map(Number);
    report.rtt = { min: min!, avg: avg!, max: max!, mdev: mdev! };
    return;
  }
  const error = ICMP_ERROR.exec(line) ?? PING_ERROR.exec(line);
  if (error) addProblem(report.problems, error[1]!);
}

/** Parses ping's stdout and stderr (either may hold error lines). */
export function parsePing(stdout: string, stderr = ''): PingReport {
  const report: PingReport = { transmitted: null, received: 0, duplicates: 0, errors: 0, rtt: null, times: [], problems: [] };
  const lines = `${stdout}\n${stderr}`.split(/\r?\n/, MAX_LINES);
  for (const raw of lines) parseLine(raw.trim(), report);
  // ping stopped by a signal before its summary was complete: the reply lines still tell.
  if (!report.rtt && report.received > 0) report.rtt = rttOf(report.times);
  return report;
}

/** Lost requests in percent of those sent (0 when none was sent), two decimals. */
export function lossPercent(r: Pick<PingReport, 'transmitted' | 'received'>): number {
  const sent = r.transmitted ?? 0;
  if (sent === 0) return 0;
  const lost = Math.max(0, sent - r.received);
  return Math.round((lost / sent) * 10_000) / 100;
}
