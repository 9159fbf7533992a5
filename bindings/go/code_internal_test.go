package inferkit

import "testing"

// Every Code is the C library's status of the same name.
func TestCodesMatchTheCLibrary(t *testing.T) {
	for code, name := range codeNames {
		if got := cStatusName(code); got != name {
			t.Errorf("code %d: Go says %s, inferkit_status_name says %s", uint32(code), name, got)
		}
		if code.String() != name {
			t.Errorf("code %d: String() = %s", uint32(code), code.String())
		}
	}
	if cStatusName(999) != "UNKNOWN" {
		t.Error("an unknown status")
	}
	for d, name := range dtypeNames {
		if d.String() != name {
			t.Errorf("dtype %d: %s", uint32(d), d.String())
		}
	}
}
