/**
 * The npm packages inside a directory tree (a checkout or an image's exported filesystem) as a
 * CycloneDX 1.6 SBOM, built with the CycloneDX library (@cyclonedx/cyclonedx-library): every
 * `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json`, nested ones too,
 * wherever they sit (the app's dependencies, npm's own bundled ones under /usr/local/lib/...).
 *
 * Why a walk rather than @cyclonedx/cyclonedx-npm: that tool runs `npm ls` over a project with its
 * lockfile, and an image holds no lockfile; what ships is what is on disk, so the disk is listed.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';

export interface NpmPackage {
  readonly name: string;
  readonly version: string;
  /** Directories holding it, relative to the walked root, `/`-separated (one per copy on disk). */
  readonly paths: readonly string[];
  /** The package.json `license` (SPDX expression or name), when it has one. */
  readonly license?: string;
}

export interface SbomSubject {
  /** What the SBOM describes, for example `kgraph-mcp`. */
  readonly name: string;
  readonly version?: string;
  /** `container` for an image, `application` for a source tree. */
  readonly type?: 'container' | 'application';
  /** Extra facts recorded as properties of the subject (image digest, base image, commit ...). */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface Sbom {
  readonly packages: readonly NpmPackage[];
  /** The CycloneDX 1.6 JSON document. */
  readonly json: string;
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  license?: unknown;
}

async function readPackageJson(dir: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined; // no package.json, or not JSON: not a package
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function isRealDir(path: string): Promise<boolean> {
  try {
    // Symlinks (npm workspace links) point back into the tree, which the walk reaches anyway.
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

const SKIP_DIRS = new Set(['proc', 'sys', 'dev', '.git']);

/** Every npm package installed under `root` (sorted by name, then version; one entry per name@version). */
export async function listNpmPackages(root: string): Promise<NpmPackage[]> {
  const found = new Map<string, { name: string; version: string; license?: string; paths: string[] }>();
  const rel = (p: string) => relative(root, p).split(sep).join('/');

  const addPackage = async (dir: string): Promise<void> => {
    const pj = await readPackageJson(dir);
    if (pj && typeof pj.name === 'string' && typeof pj.version === 'string') {
      const key = `${pj.name}@${pj.version}`;
      const entry = found.get(key) ?? { name: pj.name, version: pj.version, paths: [] };
      if (entry.license === undefined && typeof pj.license === 'string') entry.license = pj.license;
      entry.paths.push(rel(dir));
      found.set(key, entry);
    }
    await walk(dir); // nested node_modules and bundled dependencies
  };

  const walkNodeModules = async (nm: string): Promise<void> => {
    for (const name of await entries(nm)) {
      if (name.startsWith('.')) continue; // .bin, .package-lock.json, .cache
      const path = join(nm, name);
      if (!(await isRealDir(path))) continue;
      if (name.startsWith('@')) {
        for (const scoped of await entries(path)) {
          const p = join(path, scoped);
          if (await isRealDir(p)) await addPackage(p);
        }
      } else {
        await addPackage(path);
      }
    }
  };

  const walk = async (dir: string): Promise<void> => {
    for (const name of await entries(dir)) {
      const path = join(dir, name);
      if (SKIP_DIRS.has(name) || !(await isRealDir(path))) continue;
      if (name === 'node_modules') await walkNodeModules(path);
      else await walk(path);
    }
  };

  await walk(root);
  return [...found.values()]
    .map((p) => ({ ...p, paths: p.paths.sort() }))
    .sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1));
}

/** The purl of an npm package: `pkg:npm/%40scope/name@1.2.3`. */
export function npmPurl(name: string, version: string): string {
  const [namespace, bare] = name.startsWith('@') ? (name.split('/', 2) as [string, string]) : [undefined, name];
  return new PackageURL('npm', namespace, bare, version, undefined, undefined).toString();
}

/**
 * Accepts an SPDX expression of known ids joined by AND/OR/WITH and parentheses, throws otherwise
 * (the license factory then records the text as a named license). Enough for package.json values.
 */
function validateSpdxExpression(expression: string): void {
  const tokens = expression.replace(/[()]/g, ' ').split(/\s+/).filter(Boolean);
  const ok =
    tokens.length > 0 &&
    tokens.every((t, i) =>
      i % 2 === 1
        ? ['AND', 'OR', 'WITH'].includes(t)
        : CDX.SPDX.isSupportedSpdxId(t.replace(/\+$/, '')) || /^[A-Za-z0-9.-]+-exception(-[\d.]+)?$/.test(t),
    );
  if (!ok || tokens.length % 2 === 0) throw new RangeError(`not an SPDX expression: ${expression}`);
}

/** A CycloneDX 1.6 JSON SBOM of the given packages (pure: same input, same document but for serial and time). */
export function cyclonedxSbom(packages: readonly NpmPackage[], subject: SbomSubject): string {
  const licenses = new CDX.Contrib.License.Factories.LicenseFactory(validateSpdxExpression);
  const bom = new CDX.Models.Bom();
  bom.serialNumber = CDX.Contrib.Bom.Utils.randomSerialNumber();
  bom.metadata.timestamp = new Date();
  bom.metadata.tools.components.add(
    new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'kgraph-ci', { group: '@kgraph' }),
  );
  const top = new CDX.Models.Component(
    subject.type === 'container' ? CDX.Enums.ComponentType.Container : CDX.Enums.ComponentType.Application,
    subject.name,
    { ...(subject.version ? { version: subject.version } : {}), bomRef: 'subject' },
  );
  for (const [name, value] of Object.entries(subject.properties ?? {}))
    top.properties.add(new CDX.Models.Property(name, value));
  bom.metadata.component = top;

  for (const p of packages) {
    const purl = npmPurl(p.name, p.version);
    const [group, bare] = p.name.startsWith('@') ? (p.name.split('/', 2) as [string, string]) : [undefined, p.name];
    const component = new CDX.Models.Component(CDX.Enums.ComponentType.Library, bare, {
      ...(group ? { group } : {}),
      version: p.version,
      purl,
      bomRef: purl,
    });
    if (p.license) component.licenses.add(licenses.makeFromString(p.license));
    // The property name cyclonedx-npm uses for where a package sits on disk.
    for (const path of p.paths) component.properties.add(new CDX.Models.Property('cdx:npm:package:path', path));
    bom.components.add(component);
    top.dependencies.add(component.bomRef);
  }

  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}

/** The SBOM of every npm package under `root` (a checkout, or an image filesystem exported to disk). */
export async function sbomOfDirectory(root: string, subject: SbomSubject): Promise<Sbom> {
  const packages = await listNpmPackages(root);
  return { packages, json: cyclonedxSbom(packages, subject) };
}
