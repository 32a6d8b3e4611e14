// The tools that check the Helm chart offline (test/unit/helm-chart.test.ts), built from the Go module proxy into
// the git-ignored .tools/k8s/ and reused when present. Built-ins only.
//
//   helm           helm.sh/helm/v3 at HELM_VERSION, with the version and default Kubernetes version that Helm's own
//                  Makefile sets (a plain `go install` would render for Kubernetes 1.20).
//   k8s-validate   tools/k8s-validate (its go.mod pins k8s.io/api and the Prometheus Operator types), in a directory
//                  named by a hash of its sources, so an edit rebuilds it.
//   KEDA           the CRDs (config/crd/bases) and scaler sources (pkg/scalers) of github.com/kedacore/keda/v2 at
//                  KEDA_VERSION, copied out of the module so the test does not need Go.
//
//   node scripts/helm-tools.mjs install   builds what is missing (bootstrap --test runs this)
//   node scripts/helm-tools.mjs paths     prints the paths as JSON (exit 1 if something is missing)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLS_DIR, findOnPath, isExecutable } from './lib/tools.mjs';

export const HELM_VERSION = 'v3.21.4';
/** The Kubernetes minor Helm renders for by default: its client-go's (k8s.io/client-go v0.36 in Helm 3.21). */
export const HELM_KUBE_VERSION = { major: '1', minor: '36' };
/** 2.17 added the temporal scaler; 2.21 is the newest release when this was pinned. */
export const KEDA_VERSION = 'v2.21.0';

const k8sDir = (root) => path.join(TOOLS_DIR(root), 'k8s');
const validatorSources = (root) => path.join(root, 'tools', 'k8s-validate');

function validatorHash(root) {
  const dir = validatorSources(root);
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.go') || file === 'go.mod' || file === 'go.sum') {
      hash
        .update(file)
        .update('\0')
        .update(readFileSync(path.join(dir, file)))
        .update('\0');
    }
  }
  return hash.digest('hex').slice(0, 12);
}

/** Where each tool lives (whether or not it is built yet). */
export function helmToolPaths(root) {
  const base = k8sDir(root);
  const keda = path.join(base, `keda-${KEDA_VERSION}`);
  return {
    helm: path.join(base, `helm-${HELM_VERSION}`, 'helm'),
    validator: path.join(base, `k8s-validate-${validatorHash(root)}`, 'k8s-validate'),
    kedaCrds: path.join(keda, 'crds'),
    kedaScalers: path.join(keda, 'scalers'),
  };
}

function isPinnedHelm(file) {
  if (!isExecutable(file)) return false;
  const version = spawnSync(file, ['version', '--short'], { encoding: 'utf8' });
  return version.status === 0 && version.stdout.trim().startsWith(HELM_VERSION);
}

export function missingHelmTools(root) {
  const p = helmToolPaths(root);
  return [
    isPinnedHelm(p.helm) ? undefined : 'helm',
    isExecutable(p.validator) ? undefined : 'k8s-validate',
    existsSync(path.join(p.kedaCrds, 'keda.sh_scaledobjects.yaml')) ? undefined : 'KEDA CRDs',
  ].filter((x) => x !== undefined);
}

function findGo() {
  return findOnPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** Runs a Go command at low priority (the machine is shared); returns its stdout or throws with its output. */
function go(goBin, args, options = {}) {
  const result = spawnSync('nice', ['-n', '10', goBin, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
    env: { ...process.env, ...options.env },
  });
  if (result.status !== 0) {
    throw new Error(`go ${args.join(' ')} failed:\n${result.stderr || result.error?.message}`);
  }
  return result.stdout;
}

/** Builds into a temporary directory and renames it into place, so a half-built tool is never "present". */
function buildInto(finalFile, build) {
  const dir = path.dirname(finalFile);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    build(tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Builds whatever is missing. Returns the paths; throws with the reason when Go is missing or a build fails. */
export function installHelmTools(root, log = console.log) {
  const p = helmToolPaths(root);
  const missing = missingHelmTools(root);
  if (missing.length === 0) return p;
  const goBin = findGo();
  if (!goBin) throw new Error(`Go (>= 1.26) is needed to build ${missing.join(', ')} for the Helm chart test`);
  if (missing.includes('helm')) {
    log(`building helm ${HELM_VERSION} (Go module proxy) into ${path.relative(root, path.dirname(p.helm))}/`);
    const ldflags = [
      `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
      `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${HELM_KUBE_VERSION.major}`,
      `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${HELM_KUBE_VERSION.minor}`,
      `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${HELM_KUBE_VERSION.major}`,
      `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${HELM_KUBE_VERSION.minor}`,
    ].join(' ');
    buildInto(p.helm, (tmp) =>
      go(goBin, ['install', '-trimpath', `-ldflags=${ldflags}`, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
        cwd: tmp,
        env: { GOBIN: tmp },
      }),
    );
  }
  if (missing.includes('k8s-validate')) {
    log(`building tools/k8s-validate into ${path.relative(root, path.dirname(p.validator))}/`);
    buildInto(p.validator, (tmp) =>
      go(goBin, ['build', '-trimpath', '-o', path.join(tmp, 'k8s-validate'), '.'], {
        cwd: validatorSources(root),
      }),
    );
  }
  if (missing.includes('KEDA CRDs')) {
    log(`copying the CRDs and scaler sources of KEDA ${KEDA_VERSION} (Go module proxy)`);
    const info = JSON.parse(go(goBin, ['mod', 'download', '-json', `github.com/kedacore/keda/v2@${KEDA_VERSION}`]));
    const scalers = path.join(info.Dir, 'pkg', 'scalers');
    buildInto(p.kedaCrds, (tmp) => {
      cpSync(path.join(info.Dir, 'config', 'crd', 'bases'), path.join(tmp, 'crds'), { recursive: true });
      // The scalers' own sources (not their tests or sub-packages): k8s-validate reads their settings' names.
      cpSync(scalers, path.join(tmp, 'scalers'), {
        recursive: true,
        filter: (src) => src === scalers || /(?<!_test)\.go$/.test(src),
      });
    });
  }
  const still = missingHelmTools(root);
  if (still.length > 0) throw new Error(`still missing after the build: ${still.join(', ')}`);
  return p;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const command = process.argv[2];
  if (command === 'install') {
    try {
      installHelmTools(root, (m) => console.log(`[helm-tools] ${m}`));
    } catch (err) {
      console.error(`[helm-tools] ${err.message}`);
      process.exit(1);
    }
  } else if (command === 'paths') {
    console.log(JSON.stringify({ ...helmToolPaths(root), missing: missingHelmTools(root) }));
  } else {
    console.error('usage: node scripts/helm-tools.mjs install|paths');
    process.exit(2);
  }
}
