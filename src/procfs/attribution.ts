/**
 * Whether process attribution (the holders of sockets, from /proc/<pid>/fd) can see other users' processes: the
 * agent's start-up check, which says once why pid would be 0 (the agent's netstat_port process_attribution).
 */
import { readdirSync, statSync } from 'node:fs';

/**
 * Why process attribution would give pid 0, or undefined: the first other user's process whose fd directory
 * cannot be read, or no other user's process visible at all (hidepid, ProtectProc=invisible). `me`: this
 * process's effective uid; `proc`: where /proc is (a /proc-shaped directory in tests).
 */
export function attributionProblem(me: number | undefined, proc = '/proc'): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch (e) {
    return `/proc cannot be read (${(e as NodeJS.ErrnoException).code})`;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (statSync(`${proc}/${pid}`).uid === me) continue;
      readdirSync(`${proc}/${pid}/fd`);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') return `${code} on /proc/${pid}/fd`;
    }
  }
  return "no other user's process is visible in /proc";
}
