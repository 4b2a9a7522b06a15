from narcwatch.cli import main

main()
