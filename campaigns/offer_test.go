package campaigns_test

import (
	"testing"
	"time"

	"heed/campaigns"
)

func TestOfferRender(t *testing.T) {
	discount := func(p float64) campaigns.Offer {
		return campaigns.Offer{Type: campaigns.OfferDiscount, PercentOff: p}
	}
	threshold := func(spend, off float64) campaigns.Offer {
		return campaigns.Offer{Type: campaigns.OfferThreshold, Spend: spend, AmountOff: off}
	}
	tests := []struct {
		name   string
		o      campaigns.Offer
		locale string
		want   string
	}{
		{"discount zh", discount(15), "zh-CN", "8.5折"},
		{"discount default is Chinese", discount(15), "", "8.5折"},
		{"discount whole 折", discount(20), "zh", "8折"},
		{"discount two decimals", discount(12.5), "zh-TW", "8.75折"},
		{"discount float noise", discount(33.3), "zh", "6.67折"},
		{"discount en", discount(15), "en", "15% off"},
		{"discount en fraction", discount(12.5), "en-US", "12.5% off"},
		{"threshold zh", threshold(300, 50), "zh-CN", "满300减50"},
		{"threshold zh decimals", threshold(300, 49.5), "zh", "满300减49.5"},
		{"threshold en", threshold(300, 50), "en", "Spend ¥300, save ¥50"},
		{"points zh", campaigns.Offer{Type: campaigns.OfferPoints, Points: 200}, "zh-Hans-CN", "赠200积分"},
		{"points en", campaigns.Offer{Type: campaigns.OfferPoints, Points: 200}, "fr", "200 bonus points"},
		{"one point en", campaigns.Offer{Type: campaigns.OfferPoints, Points: 1}, "en", "1 bonus point"},
		{"free shipping zh", campaigns.Offer{Type: campaigns.OfferFreeShipping}, "ZH_cn", "包邮"},
		{"free shipping en", campaigns.Offer{Type: campaigns.OfferFreeShipping}, "en-GB", "Free shipping"},
		{"unknown type", campaigns.Offer{Type: "bogus"}, "en", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Render(tt.locale); got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.locale, got, tt.want)
			}
		})
	}
}

func TestOfferValidUntil(t *testing.T) {
	sh := mustLoad(t, "Asia/Shanghai")
	la := mustLoad(t, "America/Los_Angeles")
	sent := at(t, "2027-03-01T20:00:00Z") // Mar 2 04:00 in Shanghai, Mar 1 12:00 in LA
	tests := []struct {
		name string
		days int
		loc  *time.Location
		want string
	}{
		{"no end", 0, sh, ""},
		{"Shanghai", 7, sh, "2027-03-09"},
		{"Los Angeles", 7, la, "2027-03-08"},
		{"across DST", 14, la, "2027-03-15"},
		{"nil is UTC", 1, nil, "2027-03-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := campaigns.Offer{Type: campaigns.OfferFreeShipping, ValidDays: tt.days}
			if got := o.ValidUntil(sent, tt.loc); got != tt.want {
				t.Errorf("ValidUntil = %q, want %q", got, tt.want)
			}
		})
	}
}
