package golden

// Checks of cases run without tcpflow compare with other cases' goldens.
func init() { goldenExpectation = expectation }
