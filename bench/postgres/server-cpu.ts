import { readFileSync, readdirSync } from 'node:fs';

/** CPU time (ms) of the server's processes: live ones, and the ended ones the postmaster has reaped. */
export function serverCpuMs(postmaster: number): number {
  const ticks = (pid: number, children: boolean) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
  };
  let total = ticks(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === postmaster) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[1]) === postmaster) total += ticks(Number(entry), false);
    } catch {
      // The process ended meanwhile: the postmaster's children time has it.
    }
  }
  return total * 10;
}
