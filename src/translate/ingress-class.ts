// Which Ingresses are ours. Ingresses of other classes are ignored silently: they belong to another
// controller, and reporting them would flood every cluster that runs more than one.
import type { Ingress, IngressClass } from '../model/kube.ts';
import type { TranslateOptions } from '../model/snapshot.ts';

export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** Precomputed once per translate: the IngressClasses by name and whether one of ours is the default. */
export interface ClassIndex {
  readonly controllerByClass: ReadonlyMap<string, string | undefined>;
  readonly weOwnTheDefaultClass: boolean;
}

export function indexIngressClasses(classes: readonly IngressClass[], options: TranslateOptions): ClassIndex {
  const controllerByClass = new Map<string, string | undefined>();
  let weOwnTheDefaultClass = false;
  for (const ingressClass of classes) {
    const controller = ingressClass.spec?.controller;
    controllerByClass.set(ingressClass.metadata.name, controller);
    if (controller === options.controllerName && ingressClass.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true') {
      weOwnTheDefaultClass = true;
    }
  }
  return { controllerByClass, weOwnTheDefaultClass };
}

/**
 * The ownership rules, in order (an empty string counts as not set):
 * 1. spec.ingressClassName: ours iff the IngressClass of that name has our controller, or, when no
 *    IngressClass of that name exists, the name is --ingress-class.
 * 2. else the legacy annotation kubernetes.io/ingress.class: ours iff it equals --ingress-class.
 * 3. else (no class): ours iff --watch-ingress-without-class, or one of our IngressClasses is
 *    marked ingressclass.kubernetes.io/is-default-class: "true".
 */
export function isIngressOwned(ingress: Ingress, classes: ClassIndex, options: TranslateOptions): boolean {
  const className = ingress.spec?.ingressClassName;
  if (className !== undefined && className !== null && className !== '') {
    if (classes.controllerByClass.has(className)) return classes.controllerByClass.get(className) === options.controllerName;
    return className === options.ingressClass;
  }
  const legacy = ingress.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined && legacy !== null && legacy !== '') return legacy === options.ingressClass;
  return options.watchIngressWithoutClass || classes.weOwnTheDefaultClass;
}
