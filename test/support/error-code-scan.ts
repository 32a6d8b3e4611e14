import path from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import ts from 'typescript';

/** One place in the source that emits an error code, and the codes the type checker says it can emit. */
export interface EmittedCode {
  /** `file:line` of the site. */
  readonly where: string;
  readonly kind: 'error_class' | 'temporal_failure_type' | 'api_error_body' | 'dead_letter_reason';
  /** The string literal values the site can take; empty when its type is not a union of string literals. */
  readonly codes: readonly string[];
  /** The site's type as the checker prints it (for messages). */
  readonly type: string;
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(REPO_ROOT, 'src');
const ERRORS_MODULE = path.join(SRC, 'domain', 'errors.ts');

export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Finds, with the TypeScript type checker, every place under `src/` that emits an error code:
 * - `error_class`: the `code` of every concrete class that extends `WssError` (directly or not);
 * - `temporal_failure_type`: the `type` given to `ApplicationFailure.create/nonRetryable/retryable/fromError`;
 * - `api_error_body`: the `code` of an object literal `{ error: { code } }` (an API error answer); `src/cli/` is
 *   skipped: the CLI is a client, and its `bad_response` labels a non-JSON answer it received;
 * - `dead_letter_reason`: the value written next to `'wss_reason_code'` in a call's arguments (the XADD).
 *
 * Types, not text: `type: failure.type` counts as the codes its type allows, so a site typed `string` is reported
 * with no codes (and must be typed with `ErrorCode`).
 *
 * @param extraFiles virtual files (absolute path → source text) added to the program, for fixtures.
 */
export function scanEmittedCodes(extraFiles: Readonly<Record<string, string>> = {}): EmittedCode[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = extraFiles[path.resolve(fileName)];
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  host.fileExists = (fileName) => extraFiles[path.resolve(fileName)] !== undefined || fileExists(fileName);
  host.readFile = (fileName) => extraFiles[path.resolve(fileName)] ?? readFile(fileName);

  const roots = [...sourceFiles(), ...Object.keys(extraFiles)];
  const program = ts.createProgram(roots, options, host);
  const checker = program.getTypeChecker();
  const found: EmittedCode[] = [];

  const literals = (type: ts.Type): string[] => {
    const parts = type.isUnion() ? type.types : [type];
    return parts.every((t) => t.isStringLiteral()) ? parts.map((t) => (t as ts.StringLiteralType).value) : [];
  };
  const record = (node: ts.Node, kind: EmittedCode['kind'], type: ts.Type) => {
    const file = node.getSourceFile();
    const { line } = file.getLineAndCharacterOfPosition(node.getStart());
    found.push({
      where: `${path.relative(REPO_ROOT, file.fileName)}:${line + 1}`,
      kind,
      codes: literals(type),
      type: checker.typeToString(type),
    });
  };
  const extendsWssError = (type: ts.Type): boolean =>
    (checker.getBaseTypes(type as ts.InterfaceType) ?? []).some((base) => {
      const declaration = base.getSymbol()?.declarations?.[0];
      const isWssError =
        base.getSymbol()?.getName() === 'WssError' &&
        path.resolve(declaration?.getSourceFile().fileName ?? '') === ERRORS_MODULE;
      return isWssError || extendsWssError(base);
    });
  const propertyNamed = (object: ts.ObjectLiteralExpression, name: string) =>
    object.properties.find(
      (p): p is ts.PropertyAssignment | ts.ShorthandPropertyAssignment =>
        (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) &&
        ts.isIdentifier(p.name) &&
        p.name.text === name,
    );
  const valueType = (p: ts.PropertyAssignment | ts.ShorthandPropertyAssignment) =>
    ts.isPropertyAssignment(p)
      ? checker.getTypeAtLocation(p.initializer)
      : checker.getTypeOfSymbolAtLocation(checker.getShorthandAssignmentValueSymbol(p)!, p);

  const visit = (node: ts.Node): void => {
    if (ts.isClassDeclaration(node) && node.name) {
      const isAbstract = (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Abstract) !== 0;
      const type = checker.getTypeAtLocation(node);
      const code = type.getProperty('code');
      if (!isAbstract && code && extendsWssError(type)) {
        record(node.name, 'error_class', checker.getTypeOfSymbolAtLocation(code, node));
      }
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const target = node.expression.expression;
      const method = node.expression.name.text;
      if (ts.isIdentifier(target) && target.text === 'ApplicationFailure') {
        if (method === 'nonRetryable' || method === 'retryable') {
          const type = node.arguments[1];
          if (type) record(type, 'temporal_failure_type', checker.getTypeAtLocation(type));
        } else if (method === 'create' || method === 'fromError') {
          const options = node.arguments[method === 'create' ? 0 : 1];
          if (options && ts.isObjectLiteralExpression(options)) {
            const type = propertyNamed(options, 'type');
            if (type) record(type, 'temporal_failure_type', valueType(type));
          }
        }
      }
    }
    if (ts.isCallExpression(node)) {
      node.arguments.forEach((arg, i) => {
        const next = node.arguments[i + 1];
        if (ts.isStringLiteral(arg) && arg.text === 'wss_reason_code' && next) {
          record(next, 'dead_letter_reason', checker.getTypeAtLocation(next));
        }
      });
    }
    if (
      ts.isObjectLiteralExpression(node) &&
      !node.getSourceFile().fileName.startsWith(path.join(SRC, 'cli') + path.sep)
    ) {
      const error = propertyNamed(node, 'error');
      if (error && ts.isPropertyAssignment(error) && ts.isObjectLiteralExpression(error.initializer)) {
        const code = propertyNamed(error.initializer, 'code');
        if (code) record(code, 'api_error_body', valueType(code));
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const file of program.getSourceFiles()) {
    const name = path.resolve(file.fileName);
    if (name.startsWith(SRC + path.sep) || extraFiles[name] !== undefined) visit(file);
  }
  return found;
}
