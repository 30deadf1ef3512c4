/** Prometheus text 0.0.4 / OpenMetrics 1.0 exposition parsing for the scrape hot path. */
export {
  ExpositionError,
  detachSeriesText,
  formatFromContentType,
  parseExposition,
  parseSeriesText,
} from './parser.js';
export type {
  ExpositionFormat,
  MetricMetadata,
  MetricType,
  ParseSummary,
  SampleSink,
  SeriesLabel,
} from './parser.js';
