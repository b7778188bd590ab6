// Package viz draws what attention does: heat maps of attention weights (query
// positions down, key positions across) with a colour bar, a grid of every head of
// a layer on one shared scale, and the summaries that go with them (the mean
// softmax entropy and the mean largest weight of the rows).
//
// Masked positions (a causal, boolean or additive mask, or key padding) are not
// drawn as weight 0: they are light grey with dark diagonal hatching, distinct
// from every colour of the scale, and each figure says so in a legend. Weights run
// from dark purple (0) through blue and green to yellow (the colour scale's top),
// the perceptually uniform viridis map, so equal steps in weight look like equal
// steps in colour.
//
// Figures are drawn with gonum.org/v1/plot into an *image.RGBA; a Figure knows
// where each cell landed (Figure.Cell), so tests can read the colour of a cell.
// The gpubench command's attn-map subcommand computes weights with package model
// (ForwardWithWeights of a layer, stack or attention block) and draws them here.
package viz
