import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Composer, type CST, type Document, Parser } from 'yaml';
import { ResourceInputError, type ResourceProblem } from './errors.js';
import { renderKeepingSource, type WholeDocumentFallback } from './keep-source.js';

/** One input file: its text and its YAML documents (comments and order kept). */
export interface ResourceFile {
  /** The path as given or found (relative to the working directory when given relatively). */
  path: string;
  /** The absolute path, for reading and writing. */
  absolutePath: string;
  text: string;
  documents: Document.Parsed[];
}

const YAML_EXT = /\.ya?ml$/i;

/**
 * The syntax tree each file was parsed from, with the text it belongs to: writing the file back
 * reuses it instead of parsing the file again. A file object not made by parseResourceText, or
 * whose text was replaced, has none (or a stale one, recognised by its text) and is parsed anew.
 */
const syntaxTrees = new WeakMap<ResourceFile, { text: string; tokens: readonly CST.Token[] }>();

/**
 * Expands files and directories (recursively, `.yml`/`.yaml` only, sorted) into file paths.
 * A file named explicitly is taken whatever its extension.
 */
export async function collectYamlFiles(paths: readonly string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  const problems: ResourceProblem[] = [];
  async function walk(rel: string, abs: string): Promise<void> {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childRel = path.join(rel, e.name);
      const childAbs = path.join(abs, e.name);
      if (e.isDirectory()) await walk(childRel, childAbs);
      else if (e.isFile() && YAML_EXT.test(e.name)) out.push(childRel);
    }
  }
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    const st = await stat(abs).catch(() => undefined);
    if (!st) problems.push({ file: p, message: 'no such file or directory' });
    else if (st.isDirectory()) await walk(p, abs);
    else out.push(p);
  }
  if (problems.length > 0) throw new ResourceInputError(problems, 'not-found');
  return [...new Set(out)];
}

/** Parses one file's YAML stream. Syntax errors become problems with line and column. */
export function parseResourceText(file: string, text: string, absolutePath = file): ResourceFile {
  // What parseAllDocuments(text, { prettyErrors: false }) does, keeping the tokens for writing.
  const tokens = [...new Parser().parse(text)];
  const documents = [...new Composer({ prettyErrors: false }).compose(tokens)];
  const problems: ResourceProblem[] = [];
  documents.forEach((doc, i) => {
    for (const err of doc.errors) {
      const { line, col } = lineAndColumn(text, err.pos[0]);
      const where = `line ${line}, column ${col}`;
      problems.push({
        file,
        field: `documents[${i}]`,
        message: `invalid YAML at ${where}: ${firstLine(err.message)}`,
      });
    }
  });
  if (problems.length > 0) throw new ResourceInputError(problems);
  const parsed: ResourceFile = { path: file, absolutePath, text, documents };
  syntaxTrees.set(parsed, { text, tokens });
  return parsed;
}

function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Reads and parses every file; reports all problems of all files at once. */
export async function loadResourceFiles(paths: readonly string[], cwd: string): Promise<ResourceFile[]> {
  const files = await collectYamlFiles(paths, cwd);
  const out: ResourceFile[] = [];
  const problems: ResourceProblem[] = [];
  for (const file of files) {
    const abs = path.resolve(cwd, file);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (error) {
      problems.push({ file, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    try {
      out.push(parseResourceText(file, text, abs));
    } catch (error) {
      if (error instanceof ResourceInputError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (problems.length > 0) throw new ResourceInputError(problems);
  return out;
}

/**
 * The file's text with the changed documents written back and every other byte kept; a changed
 * document keeps the source text of everything that did not change (`keep-source.ts`).
 */
export function renderResourceFile(
  file: ResourceFile,
  changed: ReadonlySet<number>,
  onFallback?: WholeDocumentFallback,
): string {
  const syntax = syntaxTrees.get(file);
  const tokens = syntax?.text === file.text ? syntax.tokens : undefined;
  return renderKeepingSource(file.text, file.documents, changed, onFallback, tokens ? { tokens } : {});
}
