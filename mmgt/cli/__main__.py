from mmgt.cli.main import main

main()
