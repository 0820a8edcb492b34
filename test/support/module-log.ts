// Preload (`node --import`) for tests: records the URL of every module the process loads and
// writes them, one per line, to $SWY_MODULE_LOG when the process exits.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.SWY_MODULE_LOG;
if (out !== undefined && out !== '') {
  const urls: string[] = [];
  registerHooks({
    load(url, context, nextLoad) {
      urls.push(url);
      return nextLoad(url, context);
    },
  });
  process.on('exit', () => writeFileSync(out, urls.join('\n')));
}
