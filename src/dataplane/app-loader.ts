import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../util/errors.js';
import type { AppDefinition, AppRef } from './app.js';

/** The module as a URL string every thread resolves the same way (a relative path is taken from the cwd). */
export function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^(file|data|node):/.test(m)) return m;
  if (m.startsWith('.') || isAbsolute(m)) return pathToFileURL(resolve(m)).href;
  return m; // a package name: resolved by Node from ixy.ts's location
}

/** Loads an app's definition; an `ENOAPP` UsageError if the module cannot be loaded or exports none. */
export async function loadApp(href: string, exportName = 'default'): Promise<AppDefinition> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load the app module ${href}: ${(e as Error).message.split('\n')[0]}`, 'ENOAPP');
  }
  const def = mod[exportName] as Partial<AppDefinition> | undefined;
  if (def === null || typeof def !== 'object' || (def.kind !== 'l2' && def.kind !== 'stack') || typeof def.create !== 'function') {
    throw new UsageError(
      `${href} has no app definition in its export '${exportName}': export one made with defineL2App or defineStackApp`, 'ENOAPP',
    );
  }
  return def as AppDefinition;
}

export function refHref(ref: AppRef): string {
  if (ref === null || typeof ref !== 'object' || (typeof ref.module !== 'string' && !(ref.module instanceof URL))) {
    throw new UsageError('the app is given as { module: path or URL, options }', 'ENOAPP');
  }
  return moduleHref(ref.module);
}
