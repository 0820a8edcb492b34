// Loads only the part of @kubernetes/client-node the kube source uses (KubeConfig, ListWatch,
// Watch). Its dist/config.js imports ./gen/index.js and its dist/cache.js ./serializer.js, and
// those pull in every generated model and API class: 900+ modules, whose source text V8 keeps
// (≈ 25 MiB of heap, ≈ 40 MiB of RSS; bench/PROFILE.md 6c). A resolve hook sends exactly those two
// imports, from exactly those two files, to the small modules in slim/, which export what the two
// files use. Everything else resolves as usual (the index, imported by anyone, is still whole).
// It must be registered before a module importing client-node is loaded: main.ts does it before
// its dynamic import of the kube source (a static import would be resolved, with its whole graph,
// before any code runs).
import { registerHooks } from 'node:module';

const REDIRECTS: readonly { readonly parent: string; readonly specifier: string; readonly url: string }[] = [
  { parent: '/@kubernetes/client-node/dist/config.js', specifier: './gen/index.js', url: new URL('./slim/gen-index.ts', import.meta.url).href },
  { parent: '/@kubernetes/client-node/dist/cache.js', specifier: './serializer.js', url: new URL('./slim/serializer.ts', import.meta.url).href },
];

let registered = false;

/** Registers the resolve hook once per process (later calls do nothing). */
export function registerSlimClient(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL;
      if (parent !== undefined) {
        for (const r of REDIRECTS) {
          if (specifier === r.specifier && parent.endsWith(r.parent)) return { url: r.url, shortCircuit: true };
        }
      }
      return nextResolve(specifier, context);
    },
  });
}
