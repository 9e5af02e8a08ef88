"""`hedger backtest`: the live engine over recordings and simulations, no Kafka.

`runner` drives one strategy over one path (the engine, with its own P&L, and the in-process
paper exchange);
`compare` runs strategies side by side over paths and computes their statistics;
`montecarlo` prices the cost of delta hedging one option, vectorised across paths;
`report_text`, `report_json` and `report_html` write the results; `cli` is the command.
"""
