import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatasetError } from '../errors.js';
import { type Emotion } from '../labels.js';

/** One recording whose emotion and speaker are known from its published file naming. */
export interface LabelledFile {
  path: string;
  label: Emotion;
  /** Corpus-qualified speaker id, e.g. `ravdess:07`, so speakers of different corpora never merge. */
  speaker: string;
  corpus: Corpus;
}

export type Corpus = 'ravdess' | 'tess' | 'nemo' | 'ased' | 'savee' | 'crema-d' | 'emo-db' | 'folder';

/**
 * Each corpus's published name and licence, repeated in the model card of every model
 * trained on it: all of the public corpora here are for non-commercial use.
 */
export const CORPORA: Record<Corpus, { name: string; licence: string }> = {
  ravdess: { name: 'RAVDESS (Livingstone & Russo 2018)', licence: 'CC BY-NC-SA 4.0' },
  tess: { name: 'TESS (Dupuis & Pichora-Fuller 2010)', licence: 'CC BY-NC-ND 4.0' },
  nemo: { name: 'nEMO (Christop 2024), Polish', licence: 'CC BY-NC-SA 4.0' },
  ased: {
    name: 'ASED (Retta et al. 2022), Amharic',
    licence: 'no licence stated; research use, citing Retta et al., ACM TALLIP 2022 (doi 10.1145/3529759)',
  },
  savee: { name: 'SAVEE (Haq & Jackson 2009)', licence: 'free for research; see the SAVEE site' },
  'crema-d': { name: 'CREMA-D (Cao et al. 2014)', licence: 'Open Database License 1.0' },
  'emo-db': { name: 'EMO-DB (Burkhardt et al. 2005)', licence: 'see the EMO-DB site' },
  folder: { name: 'recordings in <emotion>/ folders', licence: 'as supplied by the user' },
};

/** A file found in a dataset folder whose label could not be derived, and why. */
export interface UnlabelledFile {
  path: string;
  reason: string;
  /** The corpus its name belongs to, when the name was recognised (a RAVDESS song file). */
  corpus?: Corpus;
}

/** An entry the scan did not read: a broken link, a link loop, a file already reached by another path. */
export interface SkippedEntry {
  path: string;
  reason: string;
  /** For a folder or recording reached twice: the path it was first reached by. */
  sameAs?: string;
}

/** What one corpus contributed: audio files found, files used (labelled), and files left out by reason. */
export interface CorpusTally {
  corpus: Corpus | 'unrecognised';
  found: number;
  used: number;
  skipped: Record<string, number>;
}

export interface DatasetScan {
  files: LabelledFile[];
  unlabelled: UnlabelledFile[];
  skipped: SkippedEntry[];
}

const AUDIO_EXTENSIONS = new Set(['.wav', '.flac', '.mp3']);

type Labelling = { label: Emotion; speaker: string; corpus: Corpus } | { reason: string; corpus?: Corpus };

// RAVDESS: MM-VV-EE-II-SS-RR-AA; the third field is the emotion, the last the actor.
// Calm (02) merges into neutral (../shared/datasets/README.md, "The label set").
const RAVDESS_NAME = /^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$/;
const RAVDESS_EMOTIONS: Record<string, Emotion> = {
  '01': 'neutral',
  '02': 'neutral',
  '03': 'happiness',
  '04': 'sadness',
  '05': 'anger',
  '06': 'fear',
  '07': 'disgust',
  '08': 'surprise',
};

// TESS: the label comes from the folder `<SPEAKER>_<emotion>`, not the file name, because one
// file in OAF_neutral/ is misnamed in the original release.
const TESS_FOLDER = /^(OAF|YAF)_(angry|disgust|fear|happy|neutral|pleasant_surprise|sad)$/i;
const TESS_EMOTIONS: Record<string, Emotion> = {
  angry: 'anger',
  disgust: 'disgust',
  fear: 'fear',
  happy: 'happiness',
  neutral: 'neutral',
  pleasant_surprise: 'surprise',
  sad: 'sadness',
};

// nEMO: `EB0_anger_1`: speaker (two letters and a digit), emotion, take. Only surprise is
// spelt differently from the class name.
const NEMO_NAME = /^([A-Z]{2}\d)_(anger|fear|happiness|neutral|sadness|surprised)_(\d+)$/;
const NEMO_EMOTIONS: Record<string, Emotion> = {
  anger: 'anger',
  fear: 'fear',
  happiness: 'happiness',
  neutral: 'neutral',
  sadness: 'sadness',
  surprised: 'surprise',
};

// ASED: `n1-01-01-01-01`: emotion letter and folder number, sentence, repetition, gender,
// speaker (01-65). One published file is upper-case (`S4-...`).
const ASED_NAME = /^([nfhsa])([1-5])-(\d\d)-(\d\d)-(\d\d)-(\d\d)$/i;
const ASED_EMOTIONS: Record<string, Emotion> = {
  n1: 'neutral',
  f2: 'fear',
  h3: 'happiness',
  s4: 'sadness',
  a5: 'anger',
};

// SAVEE: `DC_a01` (speaker prefix) or `a01` inside a speaker folder DC/JE/JK/KL.
const SAVEE_NAME = /^(?:(DC|JE|JK|KL)_)?(sa|su|a|d|f|h|n)(\d\d)$/;
const SAVEE_EMOTIONS: Record<string, Emotion> = {
  a: 'anger',
  d: 'disgust',
  f: 'fear',
  h: 'happiness',
  n: 'neutral',
  sa: 'sadness',
  su: 'surprise',
};

// CREMA-D: `1001_DFA_ANG_XX`: speaker, sentence, emotion, intensity.
const CREMA_NAME = /^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$/;
const CREMA_EMOTIONS: Record<string, Emotion> = {
  ANG: 'anger',
  DIS: 'disgust',
  FEA: 'fear',
  HAP: 'happiness',
  NEU: 'neutral',
  SAD: 'sadness',
};

// EMO-DB: `03a01Fa`: speaker (2 digits), text (3), emotion letter (German initial), version.
const EMODB_NAME = /^(\d\d)([ab]\d\d)([A-Z])([a-z])$/;
const EMODB_EMOTIONS: Record<string, Emotion> = {
  W: 'anger',
  E: 'disgust',
  A: 'fear',
  F: 'happiness',
  N: 'neutral',
  T: 'sadness',
};

// Generic `<label>/<file>` folders: the class names themselves and their common synonyms.
const FOLDER_LABELS: Record<string, Emotion> = {
  anger: 'anger',
  angry: 'anger',
  disgust: 'disgust',
  disgusted: 'disgust',
  fear: 'fear',
  fearful: 'fear',
  happiness: 'happiness',
  happy: 'happiness',
  neutral: 'neutral',
  calm: 'neutral',
  sadness: 'sadness',
  sad: 'sadness',
  surprise: 'surprise',
  surprised: 'surprise',
};

/**
 * Derives the label of one file from its published corpus naming, trying the specific
 * corpora before the generic folder layout so a RAVDESS file inside a folder called `happy`
 * still gets its own (more reliable) code.
 */
export function labelFile(filePath: string): Labelling {
  const stem = path.basename(filePath, path.extname(filePath));
  const folder = path.basename(path.dirname(filePath));

  const ravdess = RAVDESS_NAME.exec(stem);
  if (ravdess) {
    const [, modality, channel, emotionCode, , , , actor] = ravdess;
    if (modality === '01' || modality === '02') {
      return { reason: `RAVDESS modality ${modality} is video; use the audio-only (03) files`, corpus: 'ravdess' };
    }
    if (channel !== '01') return { reason: `RAVDESS vocal channel ${channel} is song, not speech`, corpus: 'ravdess' };
    const label = RAVDESS_EMOTIONS[emotionCode ?? ''];
    if (!label) return { reason: `RAVDESS emotion code ${emotionCode} is not one of 01-08`, corpus: 'ravdess' };
    return { label, speaker: `ravdess:${actor}`, corpus: 'ravdess' };
  }

  const tess = TESS_FOLDER.exec(folder);
  if (tess) {
    const [, speaker, emotion] = tess;
    const label = TESS_EMOTIONS[(emotion ?? '').toLowerCase()];
    if (label) return { label, speaker: `tess:${(speaker ?? '').toUpperCase()}`, corpus: 'tess' };
  }

  const nemo = NEMO_NAME.exec(stem);
  if (nemo) {
    const [, speaker, emotion] = nemo;
    return { label: NEMO_EMOTIONS[emotion ?? ''] as Emotion, speaker: `nemo:${speaker}`, corpus: 'nemo' };
  }

  const ased = ASED_NAME.exec(stem);
  if (ased) {
    const [, letter, number, , , , speaker] = ased;
    const label = ASED_EMOTIONS[`${(letter ?? '').toLowerCase()}${number}`];
    if (!label) return { reason: `ASED emotion code ${letter}${number} is not one of n1 f2 h3 s4 a5`, corpus: 'ased' };
    return { label, speaker: `ased:${speaker}`, corpus: 'ased' };
  }

  const savee = SAVEE_NAME.exec(stem);
  const saveeSpeaker = savee?.[1] ?? (/^(DC|JE|JK|KL)$/.test(folder) ? folder : undefined);
  if (savee && saveeSpeaker) {
    const label = SAVEE_EMOTIONS[savee[2] ?? ''];
    if (label) return { label, speaker: `savee:${saveeSpeaker}`, corpus: 'savee' };
  }

  const crema = CREMA_NAME.exec(stem);
  if (crema) {
    const [, speaker, , emotion] = crema;
    const label = CREMA_EMOTIONS[emotion ?? ''];
    if (!label) return { reason: `CREMA-D emotion ${emotion} has no class in this model`, corpus: 'crema-d' };
    return { label, speaker: `crema-d:${speaker}`, corpus: 'crema-d' };
  }

  const emodb = EMODB_NAME.exec(stem);
  if (emodb) {
    const [, speaker, , letter] = emodb;
    if (letter === 'L') return { reason: 'EMO-DB boredom (L) has no class in this model', corpus: 'emo-db' };
    const label = EMODB_EMOTIONS[letter ?? ''];
    if (!label) return { reason: `EMO-DB emotion letter ${letter} is not one of W E A F N T L`, corpus: 'emo-db' };
    return { label, speaker: `emo-db:${speaker}`, corpus: 'emo-db' };
  }

  const folderLabel = FOLDER_LABELS[folder.toLowerCase()];
  if (folderLabel) {
    // A generic folder has no speaker information; each file counts as its own speaker so a
    // speaker split never claims an independence it cannot know.
    return { label: folderLabel, speaker: `folder:${filePath}`, corpus: 'folder' };
  }

  return {
    reason:
      'name matches no known corpus (RAVDESS, TESS, nEMO, ASED, SAVEE, CREMA-D, EMO-DB) and its folder ' +
      `"${folder}" is not an emotion name; put it in a folder named after its emotion`,
  };
}

/**
 * Finds every audio file under `root` (recursively, in a stable sorted order, following
 * symbolic links) and labels it. Files that cannot be labelled are returned with the reason,
 * never silently dropped.
 */
export async function scanDataset(root: string): Promise<DatasetScan> {
  return scanDatasets([root]);
}

/**
 * Scans several dataset folders; the result keeps their order. A file reached twice (two
 * links to one recording, or overlapping folders) is used once, so it can never land in both
 * training and test; the second path is reported as skipped.
 */
export async function scanDatasets(roots: readonly string[]): Promise<DatasetScan> {
  const walk = new DatasetWalk();
  for (const root of roots) await walk.root(root);
  const files: LabelledFile[] = [];
  const unlabelled: UnlabelledFile[] = [];
  for (const filePath of walk.found) {
    const labelling = labelFile(filePath);
    if ('reason' in labelling) unlabelled.push({ path: filePath, ...labelling });
    else files.push({ path: filePath, ...labelling });
  }
  return { files, unlabelled, skipped: walk.skipped };
}

/** Per corpus: files found, used and left out by reason; unrecognised names and skipped links last. */
export function tallyByCorpus(scan: DatasetScan): CorpusTally[] {
  const tallies = new Map<CorpusTally['corpus'], CorpusTally>();
  const tally = (corpus: CorpusTally['corpus']): CorpusTally => {
    let entry = tallies.get(corpus);
    if (entry === undefined) {
      entry = { corpus, found: 0, used: 0, skipped: {} };
      tallies.set(corpus, entry);
    }
    return entry;
  };
  for (const file of scan.files) {
    const entry = tally(file.corpus);
    entry.found += 1;
    entry.used += 1;
  }
  for (const file of scan.unlabelled) {
    const entry = tally(file.corpus ?? 'unrecognised');
    entry.found += 1;
    entry.skipped[file.reason] = (entry.skipped[file.reason] ?? 0) + 1;
  }
  for (const { reason } of scan.skipped) {
    const unrecognised = tally('unrecognised');
    unrecognised.skipped[reason] = (unrecognised.skipped[reason] ?? 0) + 1;
  }
  return [...tallies.values()];
}

/**
 * One walk over dataset folders. Links are followed; every folder is entered once by its
 * real path, which both stops link loops and keeps a folder linked from two places from
 * being counted twice.
 */
class DatasetWalk {
  readonly found: string[] = [];
  readonly skipped: SkippedEntry[] = [];
  readonly #foldersEntered = new Map<string, string>();
  readonly #filesFound = new Map<string, string>();

  async root(root: string): Promise<void> {
    const info = await stat(root).catch((error: unknown) => {
      throw new DatasetError(
        `dataset ${root} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); ` +
          'pass a folder of RAVDESS, TESS, nEMO, ASED, SAVEE, CREMA-D, EMO-DB or <emotion>/<file> recordings',
      );
    });
    if (!info.isDirectory()) {
      throw new DatasetError(`dataset ${root} is not a directory; pass the folder that holds the recordings`);
    }
    await this.#folder(root);
  }

  async #folder(dir: string): Promise<void> {
    const real = await realpath(dir);
    const first = this.#foldersEntered.get(real);
    if (first !== undefined) {
      this.skipped.push({ path: dir, reason: 'folder already scanned (a link loop or a second link)', sameAs: first });
      return;
    }
    this.#foldersEntered.set(real, dir);
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const entryPath = path.join(dir, entry.name);
      let kind: 'folder' | 'file' | 'other' = entry.isDirectory() ? 'folder' : entry.isFile() ? 'file' : 'other';
      if (entry.isSymbolicLink()) {
        const target = await stat(entryPath).catch(() => undefined);
        if (target === undefined) {
          this.skipped.push({ path: entryPath, reason: 'broken symbolic link' });
          continue;
        }
        kind = target.isDirectory() ? 'folder' : target.isFile() ? 'file' : 'other';
      }
      if (kind === 'folder') await this.#folder(entryPath);
      else if (kind === 'file' && AUDIO_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
        await this.#file(entryPath);
      }
    }
  }

  async #file(filePath: string): Promise<void> {
    const real = await realpath(filePath);
    const first = this.#filesFound.get(real);
    if (first !== undefined) {
      this.skipped.push({ path: filePath, reason: 'same recording already found', sameAs: first });
      return;
    }
    this.#filesFound.set(real, filePath);
    this.found.push(filePath);
  }
}
