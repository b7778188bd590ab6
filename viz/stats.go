package viz

import "math"

// MeanEntropy is the mean softmax entropy -sum_j w_j ln w_j (in nats) of the rows
// of w (row-major, cols columns). Rows with no weight (every key masked) are left
// out; it is 0 where there are none. A row spread evenly over n keys has entropy
// ln n, a row on one key 0.
func MeanEntropy(w []float64, cols int) float64 {
	return meanOverRows(w, cols, func(row []float64) float64 {
		h := 0.0
		for _, p := range row {
			if p > 0 {
				h -= p * math.Log(p)
			}
		}
		return h
	})
}

// MeanMax is the mean of the largest weight of each row of w (row-major, cols
// columns), leaving out rows with no weight; 0 where there are none.
func MeanMax(w []float64, cols int) float64 {
	return meanOverRows(w, cols, func(row []float64) float64 {
		m := 0.0
		for _, p := range row {
			m = math.Max(m, p)
		}
		return m
	})
}

// meanOverRows averages f over the rows of w that hold some positive weight.
func meanOverRows(w []float64, cols int, f func([]float64) float64) float64 {
	if cols <= 0 {
		return 0
	}
	sum, n := 0.0, 0
	for start := 0; start+cols <= len(w); start += cols {
		row := w[start : start+cols]
		mass := 0.0
		for _, p := range row {
			if p > 0 {
				mass += p
			}
		}
		if mass == 0 {
			continue
		}
		sum += f(row)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
