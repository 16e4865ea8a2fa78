/** Schemas of the dashboard's event stream (`GET stream`). */
import { Type, type Static } from 'typebox';

export const kStreamIntervalMinMs = 250;
export const kStreamIntervalMaxMs = 10_000;

export const StreamQuery = Type.Object(
  {
    interval: Type.Integer({
      minimum: kStreamIntervalMinMs,
      maximum: kStreamIntervalMaxMs,
      default: 1000,
      description: `ms between two snapshot events (${kStreamIntervalMinMs}..${kStreamIntervalMaxMs})`,
    }),
    access_token: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        description: 'the bearer token, for clients that cannot send an Authorization header (EventSource); accepted on this route only',
      }),
    ),
  },
  { additionalProperties: false },
);
export type StreamQuery = Static<typeof StreamQuery>;
