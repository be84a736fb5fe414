/**
 * Every stream is named `{category}-{id}`: the category names the stream type (it holds no dash),
 * the id is the entity's id (it may hold dashes, e.g. a UUID). This module is the only place that
 * joins or splits the two.
 */

export interface StreamNameParts {
  category: string
  id: string
}

export function streamName(category: string, id: string): string {
  return `${category}-${id}`
}

/** The parts of a stream name; a name without a dash has no category: `{ category: '', id: name }`. */
export function parseStreamName(name: string): StreamNameParts {
  const dash = name.indexOf('-')
  return dash < 0 ? { category: '', id: name } : { category: name.slice(0, dash), id: name.slice(dash + 1) }
}

/** What the names of a category's streams start with (an event filter's `streamPrefixes`). */
export function streamPrefix(category: string): string {
  return `${category}-`
}
