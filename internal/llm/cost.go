package llm

// Pricing is a model's price in USD per million tokens of each category. The JSON names are the runtime's
// MODEL_COST ones ({input, output, cacheRead, cacheWrite}).
type Pricing struct {
	InputPerMTok      float64 `json:"input"`
	OutputPerMTok     float64 `json:"output"`
	CacheReadPerMTok  float64 `json:"cacheRead"`
	CacheWritePerMTok float64 `json:"cacheWrite"`
}

// IsZero reports whether the model has no price (its runs then cost 0).
func (p Pricing) IsZero() bool { return p == Pricing{} }

// Cost is the price in USD of the given usage. Negative prices count as 0.
func Cost(u Usage, p Pricing) float64 {
	rate := func(r float64) float64 {
		if r > 0 {
			return r
		}
		return 0
	}
	return (float64(clamp(u.InputTokens))*rate(p.InputPerMTok) +
		float64(clamp(u.OutputTokens))*rate(p.OutputPerMTok) +
		float64(clamp(u.CacheReadTokens))*rate(p.CacheReadPerMTok) +
		float64(clamp(u.CacheWriteTokens))*rate(p.CacheWritePerMTok)) / 1e6
}
