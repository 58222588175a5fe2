package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func TestImportEventsNDJSON(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	e.user(t, "u1", grant(engine.PurposePersonalization, "", ""))
	e.user(t, "u2")
	var b strings.Builder
	n := 1200 // three batches
	for i := range n {
		user := "u1"
		if i%100 == 7 {
			user = "u2" // no consent: dropped
		}
		fmt.Fprintf(&b, `{"type":"view","user_id":%q,"item_id":"sku-1","touchpoint":"app","occurred_at":%q}`+"\n",
			user, now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339))
		if i == 10 {
			b.WriteString("\n") // blank lines are skipped, and counted
		}
	}
	var progress []int
	res, err := e.svc.ImportEvents(e.ctx, strings.NewReader(b.String()), "ndjson", func(l int) { progress = append(progress, l) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != n-12 || res.DroppedTotal != 12 || len(res.Dropped) != 12 || res.Dropped[0].Index != 8 || res.Lines != n+1 {
		t.Errorf("result = accepted %d, dropped %d (%v...), lines %d", res.Accepted, res.DroppedTotal, res.Dropped[0], res.Lines)
	}
	if diff := cmp.Diff([]int{501, 1001, 1201}, progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	evs, err := e.db.Events(e.ctx, "u1", 0)
	if err != nil || len(evs) != n-12 {
		t.Errorf("stored %d, %v", len(evs), err)
	}
}

func TestImportEventsBadLine(t *testing.T) {
	at := now.Add(-time.Hour).Format(time.RFC3339)
	good := `{"type":"view","user_id":"u1","item_id":"sku-1","occurred_at":"` + at + `"}` + "\n"
	tests := []struct {
		name  string
		bad   string
		field string
	}{
		{"syntax", "{not json\n", "line[703]"},
		{"unknown field", `{"type":"view","user":"u1"}` + "\n", "line[703].user"},
		{"bad value", `{"type":"poke","user_id":"u1","occurred_at":"` + at + `"}` + "\n", "line[703].type"},
		{"unknown user", `{"type":"view","user_id":"nobody","item_id":"sku-1","occurred_at":"` + at + `"}` + "\n", "line[703].user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.items(t, catalog...)
			e.user(t, "u1", grant(engine.PurposeAnalytics, "", ""))
			in := strings.Repeat(good, 702) + tt.bad + strings.Repeat(good, 10)
			res, err := e.svc.ImportEvents(e.ctx, strings.NewReader(in), "ndjson", nil)
			assertFields(t, err, tt.field)
			if res.Accepted != 500 || res.Lines != 500 {
				t.Errorf("accepted %d through line %d; want the first batch, 500 through 500", res.Accepted, res.Lines)
			}
			evs, err := e.db.Events(e.ctx, "u1", 0)
			if err != nil || len(evs) != 500 {
				t.Errorf("stored %d, %v; want 500", len(evs), err)
			}
		})
	}
}

func TestImportEventsCSV(t *testing.T) {
	e := newEnv(t)
	e.items(t, catalog...)
	e.user(t, "u1", grant(engine.PurposePersonalization, "", ""))
	at := now.Add(-time.Hour).Format(time.RFC3339)
	csv := "type,user_id,item_id,quantity,price,order_id,query,touchpoint,region,occurred_at\n" +
		"view,u1,sku-1,,,,,app,310000," + at + "\n" +
		"purchase,u1,sku-1,2,399,o1,,store,," + at + "\n" +
		"purchase,u1,sku-2,1,99.5,o1,,store,," + at + "\n" +
		"purchase,u1,sku-3,1,9,o2,,store,," + at + "\n" +
		"search,u1,,,,,\"red, shoes\",web,," + at + "\n"
	res, err := e.svc.ImportEvents(e.ctx, strings.NewReader(csv), "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 4 || res.DroppedTotal != 0 || res.Lines != 6 {
		t.Errorf("result = %+v; want 4 events from 6 lines", res)
	}
	evs, err := e.db.Events(e.ctx, "u1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []engine.EventType
	for _, ev := range evs {
		types = append(types, ev.Type)
		if ev.Order == "o1" && (len(ev.Items) != 2 || ev.Items[0].Quantity != 2 || ev.Items[1].Price != 99.5 || ev.Touchpoint != "store") {
			t.Errorf("order o1 = %+v", ev)
		}
		if ev.Type == engine.EventSearch && ev.Query != "red, shoes" {
			t.Errorf("search = %+v", ev)
		}
	}
	if len(types) != 4 {
		t.Errorf("stored %v; want view, two purchases, search", types)
	}
	u, err := e.svc.User(e.ctx, "u1")
	if err != nil || u.OrderCount != 2 {
		t.Errorf("order count %d, %v; want 2", u.OrderCount, err)
	}

	bad := []struct{ name, in, field string }{
		{"unknown column", "type,user_id,occurred_at,color\n", "line[1]"},
		{"missing column", "type,item_id\n", "line[1]\x00line[1]"},
		{"bad time", "type,user_id,item_id,occurred_at\nview,u1,sku-1,yesterday\n", "line[2].occurred_at"},
		{"quantity on a view", "type,user_id,item_id,quantity,occurred_at\nview,u1,sku-1,3," + at + "\n", "line[2].quantity"},
		{"field count", "type,user_id,item_id,occurred_at\nview,u1\n", "line[2]"},
		{"unknown item in a purchase's second row", "type,user_id,item_id,order_id,occurred_at\n" +
			"purchase,u1,sku-1,o9," + at + "\npurchase,u1,nope,o9," + at + "\n", "line[2].items[1].item_id"},
		{"bad format", "", "format"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			format := "csv"
			if tt.field == "format" {
				format = "xml"
			}
			_, err := e.svc.ImportEvents(e.ctx, strings.NewReader(tt.in), format, nil)
			assertFields(t, err, strings.Split(tt.field, "\x00")...)
		})
	}
}
