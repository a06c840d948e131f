/** `--key=value` / `--key value` / `--flag` arguments as Nx forwards them. */
export function parseArgs(argv: string[], allowed: string[], usage: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
    if (!m || !allowed.includes(m[1]!)) {
      process.stderr.write(`unknown argument '${a}'\nusage: ${usage}\n`);
      process.exit(2);
    }
    let v = m[2];
    if (v === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) v = argv[++i];
    out[m[1]!] = v ?? 'true';
  }
  return out;
}
