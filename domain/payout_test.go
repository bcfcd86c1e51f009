package domain

import "testing"

func TestIBAN(t *testing.T) {
	for iban, ok := range map[string]bool{
		"DE89 3704 0044 0532 0130 00":       true,
		"GB82 WEST 1234 5698 7654 32":       true,
		"NL91ABNA0417164300":                true,
		"FR14 2004 1010 0505 0001 3M02 606": true,
		"DE89 3704 0044 0532 0130 01":       false, // checksum
		"DE893704":                          false, // too short
		"XX00 0000 0000 0000 0000 00":       false,
		"de89 3704 0044 0532 0130 00":       true, // normalised
		"":                                  false,
	} {
		if got := ValidIBAN(NormalizeIBAN(iban)); got != ok {
			t.Errorf("ValidIBAN(%q) = %v, want %v", iban, got, ok)
		}
	}
}

func TestBICAndAccounts(t *testing.T) {
	for bic, ok := range map[string]bool{"COBADEFFXXX": true, "DEUTDEFF": true, "DEUTDE": false, "cobadeffxxx": false, "COBADEFFXX": false} {
		if ValidBIC(bic) != ok {
			t.Errorf("ValidBIC(%q) != %v", bic, ok)
		}
	}
	for acct, ok := range map[string]bool{"acct_1Nv0FGQ9RKHgCVdK": true, "acct_x": false, "cus_123456": false, "acct_12345=6": false} {
		if ValidProviderAccount(acct) != ok {
			t.Errorf("ValidProviderAccount(%q) != %v", acct, ok)
		}
	}
	if got := MaskDestination("DE89370400440532013000"); got != "••••••••••••••••••3000" {
		t.Errorf("mask: %q", got)
	}
	if got := MaskDestination("abc"); got != "•••" {
		t.Errorf("mask short: %q", got)
	}
}
