mod unit {}
