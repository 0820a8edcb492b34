// A small, strict parser of the text exposition for tests: every sample line becomes
// { name, labels, value }; HELP/TYPE lines are collected per family.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  readonly types: ReadonlyMap<string, string>;
  readonly helps: ReadonlyMap<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (text[eq + 1] !== '"') throw new Error(`bad label at ${text.slice(i)}`);
    let j = eq + 2;
    let value = '';
    while (text[j] !== '"') {
      if (text[j] === '\\') {
        const c = text[j + 1];
        value += c === 'n' ? '\n' : c;
        j += 2;
      } else value += text[j++];
    }
    if (name in labels) throw new Error(`duplicate label ${name}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

export function parseExposition(body: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (types.has(name)) throw new Error(`family ${name} declared twice`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      helps.set(rest.slice(0, sp), rest.slice(sp + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const v = m[3];
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2]) : {}, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return { samples, types, helps };
}

/** Samples named `name` whose labels include `match`. */
export function find(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The single sample named `name` matching `match` (throws unless exactly one). */
export function one(e: Exposition, name: string, match: Record<string, string> = {}): Sample {
  const found = find(e, name, match);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(match)}, got ${found.length}`);
  return found[0];
}
