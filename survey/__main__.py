from survey.cli.main import main

main(prog_name="python -m survey")
