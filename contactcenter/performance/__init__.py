"""Public performance figures: pre-aggregated counts kept current as cases change, the figures
read from them, and the public pages that publish them (the "Citywide Performance Review")."""
