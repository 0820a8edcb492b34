// Reads the Dockerfile and .dockerignore the way `docker build` does (the parts we use), and lays
// out on disk what the runtime image would contain, so tests can run the image's entrypoint
// without a container engine.
import { copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { REPO_ROOT } from './load-manifests.ts';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Instructions grouped by stage. Handles comments, parser directives and `\` continuations. */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let current = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*#/.test(line)) continue; // comments (also inside a continued instruction)
    if (current === '' && line.trim() === '') continue;
    if (current === '') start = i + 1;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    current += line;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(current);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse "${current}"`);
    instructions.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
    current = '';
  }
  if (current !== '') throw new Error('Dockerfile ends inside a continued instruction');

  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: cannot parse FROM ${ins.args}`);
      stages.push({ image: m[1], name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before FROM`);
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return stages;
}

/** The JSON array of an exec-form instruction (ENTRYPOINT, CMD, HEALTHCHECK CMD), or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return value;
}

export interface CopyInstruction {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
  readonly line: number;
}

export function parseCopy(ins: Instruction): CopyInstruction {
  const words = ins.args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const m = /^--from=(.+)$/.exec(flag);
    if (m) from = m[1];
    else if (!/^--(chown|chmod|link)(=|$)/.test(flag)) throw new Error(`Dockerfile line ${ins.line}: unsupported COPY flag ${flag}`);
  }
  if (words.length < 2 || words[0].startsWith('[')) throw new Error(`Dockerfile line ${ins.line}: expected COPY SRC... DEST`);
  return { from, sources: words.slice(0, -1), dest: words[words.length - 1], line: ins.line };
}

interface IgnoreRule {
  readonly negate: boolean;
  readonly regex: RegExp;
}

/**
 * .dockerignore matcher with Docker's semantics: Go filepath.Match patterns plus `**`, cleaned and
 * relative to the context root; a path is excluded when it or one of its parent directories matches;
 * `!` re-includes; the last matching rule wins.
 */
export function parseDockerignore(text: string): (path: string) => boolean {
  const rules: IgnoreRule[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
    rules.push({ negate, regex: globToRegex(pattern) });
  }
  return (path) => {
    const parts = posix.normalize(path).replace(/^\/+/, '').split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.negate;
    }
    return ignored;
  };
}

function globToRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories (also none); a trailing `**` matches anything.
      if (pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Every file under a repo-relative path (itself if a file), repo-relative, `/`-separated. */
export function filesUnder(relPath: string): string[] {
  const abs = join(REPO_ROOT, relPath);
  if (!statSync(abs).isDirectory()) return [relPath];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => posix.join(posix.relative(REPO_ROOT, d.parentPath).split('\\').join('/'), d.name));
}

/**
 * What `npm ci --omit=dev` installs, per package-lock.json: the outermost node_modules paths of
 * every package not marked dev (nested node_modules come with their parent).
 */
export function productionPackagePaths(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  const paths = Object.entries(lock.packages)
    // Optional packages npm did not install here (other platforms) are left out.
    .filter(([path, meta]) => path !== '' && meta.dev !== true && !(meta.optional === true && !existsSync(join(REPO_ROOT, path))))
    .map(([path]) => path)
    .sort();
  const outermost: string[] = [];
  for (const path of paths) if (!outermost.some((o) => path.startsWith(`${o}/`))) outermost.push(path);
  return outermost;
}

export interface EmulatedImage {
  /** The root of the emulated filesystem (a temp dir). */
  readonly root: string;
  /** Absolute WORKDIR inside `root`. */
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

/**
 * Lays out the final stage's filesystem under `root` by following its instructions: WORKDIR, ENV,
 * and COPY from the build context (filtered by .dockerignore, as `docker build` sends it) or from
 * the stage that ran `npm ci --omit=dev` (whose node_modules holds the lockfile's production
 * packages, copied from ours). Any RUN in the final stage throws: the runtime image has no shell.
 */
export function emulateImage(root: string): EmulatedImage {
  const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const ignored = parseDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
  const final = stages[stages.length - 1];
  let workdir = '/';
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const ins of final.instructions) {
    switch (ins.keyword) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, ins.args);
        mkdirSync(join(root, workdir), { recursive: true });
        break;
      case 'ENV':
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const copy = parseCopy(ins);
        const dest = posix.resolve(workdir, copy.dest);
        for (const source of copy.sources) {
          const target = copy.dest.endsWith('/') || copy.sources.length > 1 ? posix.join(dest, basename(source)) : dest;
          if (copy.from === undefined) copyFromContext(source, join(root, target), ignored);
          else copyFromStage(stages, copy.from, source, join(root, target));
        }
        break;
      }
      case 'ENTRYPOINT':
        entrypoint = execForm(ins.args) ?? [];
        break;
      case 'CMD':
        cmd = execForm(ins.args) ?? [];
        break;
      case 'RUN':
        throw new Error(`Dockerfile line ${ins.line}: RUN in the runtime stage needs a shell the image does not have`);
      default:
        break; // USER, EXPOSE, STOPSIGNAL, HEALTHCHECK, LABEL: metadata only
    }
  }
  return { root, workdir: join(root, workdir), env, entrypoint, cmd };
}

function copyFromContext(source: string, target: string, ignored: (path: string) => boolean): void {
  const rel = posix.normalize(source).replace(/^\.\//, '');
  if (!existsSync(join(REPO_ROOT, rel))) throw new Error(`COPY source ${source} does not exist`);
  const files = filesUnder(rel).filter((f) => !ignored(f));
  if (files.length === 0) throw new Error(`COPY source ${source} is excluded by .dockerignore`);
  for (const file of files) {
    const out = rel === file ? target : join(target, posix.relative(rel, file));
    cpSync(join(REPO_ROOT, file), out);
  }
}

function copyFromStage(stages: readonly Stage[], from: string, source: string, target: string): void {
  const stage = stages.find((s) => s.name === from);
  if (!stage) throw new Error(`COPY --from=${from}: no earlier stage of that name`);
  const installs = stage.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && /--omit=dev\b/.test(i.args));
  const workdir = stage.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args).reduce((a, b) => posix.resolve(a, b), '/');
  if (!installs || posix.resolve(workdir, source) !== posix.join(workdir, 'node_modules')) {
    throw new Error(`COPY --from=${from} ${source}: only <workdir>/node_modules of an \`npm ci --omit=dev\` stage is emulated`);
  }
  for (const path of productionPackagePaths()) {
    linkTree(join(REPO_ROOT, path), join(target, posix.relative('node_modules', path)));
  }
}

/** Like `cp -r`, but hard-links files (copies across filesystems): 95 MB of node_modules in well under a second. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else {
      try {
        linkSync(source, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        copyFileSync(source, target);
      }
    }
  }
}
