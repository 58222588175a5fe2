package campaigns

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Render returns the offer as a shopper reads it in locale: Chinese for a
// locale whose language is zh, and when locale is empty (heed's shoppers
// are mostly Chinese); English otherwise.
//
// Chinese discounts name the fraction paid, in tenths: 15% off is "8.5折",
// 20% off "8折". Amounts print without trailing zeros ("满300减49.5"). An
// unknown offer type renders as "".
func (o Offer) Render(locale string) string {
	zh := isChinese(locale)
	switch o.Type {
	case OfferDiscount:
		if zh {
			return formatAmount((100-o.PercentOff)/10) + "折"
		}
		return formatAmount(o.PercentOff) + "% off"
	case OfferThreshold:
		if zh {
			return "满" + formatAmount(o.Spend) + "减" + formatAmount(o.AmountOff)
		}
		return "Spend ¥" + formatAmount(o.Spend) + ", save ¥" + formatAmount(o.AmountOff)
	case OfferPoints:
		if zh {
			return "赠" + strconv.Itoa(o.Points) + "积分"
		}
		if o.Points == 1 {
			return "1 bonus point"
		}
		return strconv.Itoa(o.Points) + " bonus points"
	case OfferFreeShipping:
		if zh {
			return "包邮"
		}
		return "Free shipping"
	}
	return ""
}

// ValidUntil returns the last day (YYYY-MM-DD in loc) an offer sent at
// sent can be redeemed: ValidDays days after sent. It returns "" when the
// offer has no end (ValidDays zero). A nil loc means UTC.
func (o Offer) ValidUntil(sent time.Time, loc *time.Location) string {
	if o.ValidDays <= 0 {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	// AddDate on the local date, not 24h steps, so DST does not shift it.
	return sent.In(loc).AddDate(0, 0, o.ValidDays).Format(dateLayout)
}

// isChinese reports whether locale's language is Chinese; an empty locale
// counts as Chinese.
func isChinese(locale string) bool {
	lang := languageOf(locale)
	return lang == "" || strings.EqualFold(lang, "zh")
}

// formatAmount formats x without trailing zeros. It rounds to four decimals
// first so float noise (100-33.3 = 66.69999…) does not show.
func formatAmount(x float64) string {
	x = math.Round(x*1e4) / 1e4
	return strconv.FormatFloat(x, 'f', -1, 64)
}
