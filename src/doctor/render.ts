/** The doctor's report as text for a terminal, and as the JSON document of `--format json`. */
import type { Subject } from './definitions.js';
import type { DoctorReport, Finding } from './doctor.js';

const UNIT_TEXT: Record<string, string> = { sockets: 'sockets', percent: '%', per_minute: '/min', connections: 'connections' };

export function subjectText(s: Subject): string {
  const parts: string[] = [];
  if (s.process) parts.push(`process ${s.process.comm || '?'} (pid ${s.process.pid})`);
  if (s.listener) parts.push(`listener ${s.listener}`);
  if (s.local) parts.push(`socket ${s.local}`);
  if (s.source) parts.push(`from ${s.source}`);
  if (s.destination) parts.push(`to ${s.destination}`);
  if (s.peer) parts.push(`peer ${s.peer}`);
  if (s.netns) parts.push(`netns ${s.netns}${s.netns_name ? ` (${s.netns_name})` : ''}`);
  if (s.pod) parts.push(`pod ${s.pod}`);
  if (s.container) parts.push(`container ${s.container}`);
  return parts.join(', ');
}

/** Wrap a paragraph at `width` columns with `indent`. */
function wrap(text: string, indent: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** `explained`: check → the advice already printed for it (said once per check unless it differs). */
function findingText(f: Finding, explained: Map<string, string>): string {
  const e = f.evidence;
  const unit = UNIT_TEXT[e.unit] ?? e.unit;
  const value = unit === '%' || unit === '/min' ? `${e.value}${unit}` : `${e.value} ${unit}`;
  const limit = unit === '%' || unit === '/min' ? `${e.threshold}${unit}` : `${e.threshold}`;
  return [
    `${f.severity.toUpperCase().padEnd(8)} ${f.check}: ${subjectText(f.subject)}`,
    wrap(e.text, '    '),
    `    ${e.measure} = ${value} (${f.severity} at ${limit})`,
    ...(explained.get(f.check) === f.advice
      ? [`    why, do: as for ${f.check} above`]
      : (explained.set(f.check, f.advice), [wrap(`why: ${f.explanation}`, '    '), wrap(`do: ${f.advice}`, '    ')])),
  ].join('\n');
}

export function renderDoctor(r: DoctorReport): string {
  const counts = { critical: 0, warning: 0, info: 0 };
  for (const f of r.findings) counts[f.severity]++;
  const head =
    `sockscope doctor: ${r.sockets.toLocaleString('en-US')} TCP/UDP sockets sampled over ${(r.window_ms / 1000).toFixed(1)} s in ${r.namespaces ? r.netns : `netns ${r.netns}`}: ` +
    (r.findings.length === 0 ? 'nothing found' : `${counts.critical} critical, ${counts.warning} warning, ${counts.info} info`);
  const explained = new Map<string, string>();
  const parts = [head, ...r.findings.map((f) => findingText(f, explained))];
  if (r.notes.length > 0) parts.push(`Notes:\n${r.notes.map((n) => `  ${n}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}

/** `--format json`: the findings, and what the run saw. */
export const doctorJson = (r: DoctorReport): string => `${JSON.stringify(r, null, 2)}\n`;
