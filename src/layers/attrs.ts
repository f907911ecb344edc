/** The attributes of every layer kind, as the IR's nodes carry them (the library exports them with the IR's types). */
export type { AttentionPoolAttrs } from "./attention-pool.js";
export type { BiLstmAttrs, Merge } from "./bilstm.js";
export type { Activation, DenseAttrs } from "./dense.js";
export type { DropoutAttrs } from "./dropout.js";
export type { EmbeddingAttrs } from "./embedding.js";
export type { FeatureAttention, InputAttention, LstmAttrs, RecurrentActivation, TemporalAttention } from "./lstm.js";
export type { ReduceAttrs } from "./reduce.js";
