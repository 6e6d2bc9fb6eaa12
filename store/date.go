package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar date "YYYY-MM-DD"; the empty Date is JSON null.
type Date string

const dateLayout = "2006-01-02"

// MarshalJSON writes null for the empty date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if len(d) == len(dateLayout) && dateChars(string(d)) {
		return []byte(`"` + d + `"`), nil // nothing to escape in a YYYY-MM-DD date
	}
	return json.Marshal(string(d))
}

func dateChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// UnmarshalJSON accepts null or a valid "YYYY-MM-DD" date.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return ErrWrongType
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDate checks that s is a real calendar date between 1990 and 2100.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return "", nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return "", fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	if t.Year() < 1990 || t.Year() > 2100 {
		return "", fmt.Errorf("%q is outside 1990–2100", s)
	}
	return Date(s), nil
}

// Year is the date's year, or 0 for the empty date.
func (d Date) Year() int {
	if len(d) < 4 {
		return 0
	}
	y := 0
	for _, c := range d[:4] {
		y = y*10 + int(c-'0')
	}
	return y
}
